"""Several serve processes on one database: claim overhead and runs per second.

    python3 bench/several_processes.py [--jobs 300] [--seconds 5]

1. Claim overhead, in process: the claim transaction of one occurrence and the
   transaction recording its result, each against a bare SQLite commit (WAL,
   synchronous=FULL) measured in the same run.
2. Throughput: JOBS jobs running ``true`` every 0.1 s (more than the machine can
   start), then every 0.5 s (a load it can carry), on 1, then 3 ``serve``
   processes sharing one SQLite file, for SECONDS; runs started per second, the
   lag of those runs, and duplicates (an occurrence run twice: must be 0),
   against the machine's spawn limit.
3. Writer fairness: 3 processes writing small transactions as fast as they can
   for 3 s, through kala's Store (writers queue on one flock), against bare
   SQLite connections relying on its busy handler; the worst wait for a
   transaction, and how evenly the transactions were shared.
"""

import argparse
import multiprocessing
import os
import sqlite3
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
import kala  # noqa: E402
from common import Server, iso, ms, parse, percentiles, spawn_rate  # noqa: E402


def timed(calls):
    durations = []
    for call in calls:
        began = time.perf_counter()
        call()
        durations.append(time.perf_counter() - began)
    return durations


def bare_commits(path, count):
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE t (x INTEGER)")

    def commit(i):
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t VALUES (?)", (i,))
        db.execute("COMMIT")
    return timed(lambda i=i: commit(i) for i in range(count))


def claim_overhead(target, count):
    """Claim times and result times of ``count`` occurrences, one transaction each,
    on the store at ``target`` (a SQLite file or a PostgreSQL URL)."""
    store = kala.open_store(target)
    due = time.time() + 3600
    jobs = []
    for i in range(count):
        job = kala.job_from_request({"name": f"c{i}", "command": "true",
                                     "schedule": f"R/{iso(due)}/PT1S"}, now=due - 1)
        store.create_job(job)
        jobs.append(job)
    claims = []
    claim_times = timed(lambda job=job: claims.extend(
        store.claim_occurrences([(job.id, 0)], due + 0.001, "bench", 1.0)[0]) for job in jobs)
    assert len(claims) == count, "an occurrence was not claimed"
    result = kala.RunResult(True, due, due + 0.001, 0, 0)
    # The transaction itself: finish_run would also wait for the writer's pacing
    # (results are committed at most every RESULT_COMMIT_SPACING, together).
    finish_times = timed(lambda c=c: store._write_results([(c, "bench", result)])
                         for c in claims)
    store.close()
    return claim_times, finish_times


def throughput(tmp, processes, jobs, seconds, interval, db=None):
    """(runs/s, lags, duplicates, nodes, the largest server's memory in MB at the
    window's end) of ``processes`` serve processes on one database (a new SQLite file
    in ``tmp`` unless ``db`` names one)."""
    db = db or os.path.join(tmp, f"cluster{processes}-{interval}.db")
    servers = [Server(db) for _ in range(processes)]
    try:
        begin = time.time() + 2 + jobs * 0.005
        ids = [servers[i % processes].call("POST", "/api/v1/job/", {
            "name": f"t{i}", "command": "true",
            "schedule": f"R/{iso(begin + (i % 100) * interval / 100)}/PT{interval}S"})["id"]
            for i in range(jobs)]
        window = (begin + 1, begin + 1 + seconds)
        time.sleep(max(0.0, window[1] - time.time()))
        rss = max(server.rss_mb() for server in servers)
        time.sleep(1.0)  # late runs of the window too
        for job_id in ids:
            servers[0].call("POST", f"/api/v1/job/disable/{job_id}/")
        runs, lags, duplicates, nodes = 0, [], 0, set()
        for job_id in ids:
            stats = servers[0].call("GET", f"/api/v1/job/stats/{job_id}/")["job_stats"]
            scheduled = [s["scheduled_for"] for s in stats]
            duplicates += len(scheduled) - len(set(scheduled))
            for stat in stats:
                ran = parse(stat["ran_at"])
                if window[0] <= ran < window[1]:
                    runs += 1
                    lags.append(ran - parse(stat["scheduled_for"]))
                    nodes.add(stat["node"])
        return runs / seconds, lags, duplicates, len(nodes), rss
    finally:
        for server in servers:
            server.stop()


def writer(path, use_store, seconds, results):
    """One of the competing processes: small write transactions until the deadline."""
    if use_store:
        store = kala.Store(path)

        def write():
            with store._transaction() as db:  # the same path as every claim
                db.execute("INSERT INTO nodes (id, started_at, heartbeat) VALUES (?, 0, 0) "
                           "ON CONFLICT (id) DO UPDATE SET heartbeat = heartbeat + 1",
                           (str(os.getpid()),))
    else:
        db = sqlite3.connect(path, timeout=60, isolation_level=None)
        db.execute("PRAGMA synchronous=FULL")

        def write():
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO t VALUES (1)")
            db.execute("COMMIT")
    waits, stop = [], time.monotonic() + seconds
    while time.monotonic() < stop:
        began = time.monotonic()
        write()
        waits.append(time.monotonic() - began)
    results.put(waits)


def fairness(tmp, use_store, processes=3, seconds=3.0):
    path = os.path.join(tmp, f"fair-{use_store}.db")
    if use_store:
        kala.Store(path).close()
    else:
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE t (x INTEGER)")
        db.close()
    results = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=writer, args=(path, use_store, seconds, results))
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    shares = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    counts = [len(waits) for waits in shares]
    every = [w for waits in shares for w in waits]
    return sum(counts) / seconds, min(counts) / max(counts), percentiles(every)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--claims", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare = bare_commits(os.path.join(tmp, "bare.db"), args.claims)
        claims, finishes = claim_overhead(os.path.join(tmp, "claims.db"), args.claims)
        print(f"claim overhead, {args.claims} occurrences, one transaction each")
        print(f"{'':28}{'median':>11}{'p99':>11}{'ratio':>8}")
        base = statistics.median(bare)
        for name, values in (("bare sqlite commit (FULL)", bare), ("claim an occurrence", claims),
                             ("record its result", finishes)):
            print(f"{name:28}{ms(statistics.median(values))}{ms(percentiles(values)[1])}"
                  f"{statistics.median(values) / base:7.1f}x")
        spawn = spawn_rate(2)
        print(f"\nthroughput, {args.jobs} jobs running `true`, {args.seconds} s; "
              f"spawn limit from 2 threads {spawn:.0f}/s")
        print(f"{'':24}{'runs/s':>8}{'of spawn':>10}{'lag p50':>11}{'lag p99':>11}"
              f"{'dupes':>7}{'nodes':>7}{'RSS MB':>8}")
        for interval in (0.1, 0.5):
            for count in (1, 3):
                rate, lags, duplicates, nodes, rss = throughput(tmp, count, args.jobs,
                                                                args.seconds, interval)
                p50, p99, _ = percentiles(lags)
                label = f"every {interval} s, {count} proc"
                print(f"{label:24}{rate:8.0f}{rate / spawn * 100:9.0f}%{ms(p50)}{ms(p99)}"
                      f"{duplicates:7d}{nodes:7d}{rss:8.0f}")
        print("\nwriter fairness, 3 processes writing as fast as they can for 3 s")
        print(f"{'':30}{'tx/s':>7}{'min/max':>9}{'p50':>11}{'p99':>11}{'worst':>11}")
        for label, use_store in (("bare SQLite, busy handler", False),
                                 ("kala Store, flock queue", True)):
            rate, even, (p50, p99, worst) = fairness(tmp, use_store)
            print(f"{label:30}{rate:7.0f}{even:9.2f}{ms(p50)}{ms(p99)}{ms(worst)}")


if __name__ == "__main__":
    main()
