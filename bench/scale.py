"""Scale: 100,000 jobs in one kala.py server.

    python3 bench/scale.py [--jobs 100000] [--clients 8]

Creates JOBS jobs (each daily, starting tomorrow: none runs) through the API
from CLIENTS keep-alive connections, then measures the server's memory, its
database's files on disk, a GET of one job (p50/p99 over 2,000 random ids), the
full list, and a restart: from starting the process to its first answer.
Baselines measured in the same run: bare SQLite commits (WAL, synchronous=FULL)
from one thread, the ceiling for one-job-per-transaction creation, and the same
start-to-answer time on an empty database.
"""

import argparse
import http.client
import json
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server, iso, ms, percentiles  # noqa: E402


def bare_commit_rate(path, seconds=2.0):
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (x TEXT)")
    count, stop = 0, time.monotonic() + seconds
    while time.monotonic() < stop:
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t VALUES (?)", ("x" * 300,))
        db.execute("COMMIT")
        count += 1
    db.close()
    return count / seconds


def create_jobs(port, jobs, clients):
    start = iso(time.time() + 86400)
    ids, lock = [], threading.Lock()

    def client(share):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for i in share:
            conn.request("POST", "/api/v1/job/", json.dumps(
                {"name": f"scale-{i}", "owner": "bench", "command": "true",
                 "schedule": f"R/{start}/P1D"}))
            response = conn.getresponse()
            body = response.read()
            assert response.status == 201, body
            mine.append(json.loads(body)["id"])
        with lock:
            ids.extend(mine)

    began = time.perf_counter()
    threads = [threading.Thread(target=client, args=(range(c, jobs, clients),))
               for c in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ids, jobs / (time.perf_counter() - began)


def get_latencies(server, ids, count=2000):
    durations = []
    for job_id in random.Random(1).choices(ids, k=count):
        began = time.perf_counter()
        server.call("GET", f"/api/v1/job/{job_id}/")
        durations.append(time.perf_counter() - began)
    return durations


def full_list(server, query=""):
    began = time.perf_counter()
    server.conn.request("GET", "/api/v1/job/" + query)
    response = server.conn.getresponse()
    body = response.read()
    took = time.perf_counter() - began
    return took, len(body), len(json.loads(body)["jobs"])


def files_mb(db):
    """The database's files on disk (MB): all of them, and its WAL."""
    sizes = {suffix: os.path.getsize(db + suffix) if os.path.exists(db + suffix) else 0
             for suffix in ("", "-wal", "-shm")}
    return sum(sizes.values()) / 1e6, sizes["-wal"] / 1e6


def settled_rss(server, quiet=1.0, longest=20.0):
    """The server's RSS once it has not grown for ``quiet`` seconds: a restarted
    server answers before it has read its timers."""
    deadline = time.monotonic() + longest
    last, since = server.rss_mb(), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.1)
        now = server.rss_mb()
        if now > last + 0.2:
            last, since = now, time.monotonic()
    return last


def start_to_answer(db):
    began = time.monotonic()
    server = Server(db)
    server.call("GET", "/api/v1/stats/")
    return server, time.monotonic() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare = bare_commit_rate(os.path.join(tmp, "bare.db"))
        empty, empty_start = start_to_answer(os.path.join(tmp, "empty.db"))
        empty_rss = empty.rss_mb()
        empty.stop()
        db = os.path.join(tmp, "scale.db")
        server = Server(db)
        ids, rate = create_jobs(server.port, args.jobs, args.clients)
        rss = server.rss_mb()
        on_disk, wal = files_mb(db)
        gets = percentiles(get_latencies(server, ids))
        took, size, listed = full_list(server)
        assert listed == args.jobs
        page_took, page_size, paged = full_list(server, f"?limit=1000&offset={args.jobs // 2}")
        assert paged == 1000
        server.stop()
        server, restart = start_to_answer(db)
        restarted_rss = settled_rss(server)
        server.stop()
    print(f"scale: {args.jobs} jobs, {args.clients} API clients")
    print(f"create through the API   {rate:8.0f} jobs/s   (bare FULL commits, 1 thread: "
          f"{bare:.0f}/s; ratio {rate / bare:.2f}; goal >= 3,000/s)")
    print(f"server RSS               {rss:8.1f} MB       (empty server {empty_rss:.1f} MB; "
          f"after restart {restarted_rss:.1f} MB; goal <= 80 MB)")
    print(f"database on disk         {on_disk:8.1f} MB       (of which the WAL {wal:.1f} MB)")
    print(f"GET one job              p50 {ms(gets[0])} p99 {ms(gets[1])} max {ms(gets[2])}"
          f"   (goal p99 <= 5 ms)")
    print(f"GET the full list        {took:8.2f} s        ({size / 1e6:.1f} MB of JSON; "
          f"goal <= 1 s)")
    print(f"GET a page of 1,000      {page_took:8.3f} s        ({page_size / 1e6:.1f} MB, "
          f"?limit=1000&offset={args.jobs // 2})")
    print(f"restart to first answer  {restart:8.2f} s        (empty database {empty_start:.2f} s;"
          f" goal <= 0.5 s)")


if __name__ == "__main__":
    main()
