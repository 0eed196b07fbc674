"""kala.py on each of its stores, in the same run: SQLite, PostgreSQL and MySQL.

    python3 bench/stores.py [--postgres postgresql://postgres@127.0.0.1:5432]
                            [--mysql mysql://root@127.0.0.1:3306]

Needs psycopg and a PostgreSQL server, PyMySQL and a MySQL (or MariaDB) server
(a store whose driver or server is missing is left out, and said so). It creates
databases of its own and drops them at the end; every part starts from an empty
database.

1. Claim transaction: one occurrence claimed in its own transaction, and its
   result recorded, p50/p99, on each store, against a bare commit of that
   database measured in the same run.
2. Throughput: JOBS jobs running ``true``, every 0.1 s (more than the machine
   can start) on 1 and 3 serve processes; runs started per second, lag,
   duplicates (must be 0), against the machine's spawn limit.
3. Firing lag at 1,000 jobs a second on one process (p50/p99/max), beside a bare
   Python loop forking ``true`` at the same rate (the floor for the same work); each
   store's p99 against the bare loop's and against SQLite's (whose start marks are
   local: what a round trip to the database server adds).
4. Failover on each database server: a job every 0.5 s on 3 processes; the
   process that ran the last occurrence is killed (-9), or cut off from the
   database (its relay hangs: the server does not notice), 150 ms before the next
   occurrence (before it is claimed, 0.1 s ahead) or 50 ms before (claimed, not
   started), and the next occurrence's lag on a survivor is measured, several
   times.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
from common import Server, iso, ms, parse, percentiles, spawn_rate  # noqa: E402
from firing_lag import bare_spawn_lag, kala_lag  # noqa: E402
from several_processes import bare_commits, claim_overhead, throughput, timed  # noqa: E402


class ServerDatabases:
    """Databases of the benchmark's own on a PostgreSQL or MySQL server: a fresh one
    (a schema on PostgreSQL) per part, all dropped at the end."""

    def __init__(self, kind, server):
        self.kind, self.server = kind, server
        parts = urllib.parse.urlsplit(server)
        self.upstream = (parts.hostname, parts.port or (5432 if kind == "postgresql" else 3306))
        self.name = f"kala_bench_{os.getpid()}"
        self.made = []
        if kind == "postgresql":
            import psycopg
            self.driver = psycopg
            self.admin = psycopg.connect(f"{server}/postgres", autocommit=True)
            self.admin.execute(f"CREATE DATABASE {self.name}")
            self.made.append(self.name)
        else:
            import pymysql
            self.driver = pymysql
            self.admin = pymysql.connect(host=parts.hostname, port=self.upstream[1],
                                         user=parts.username or "root",
                                         password=parts.password or "", autocommit=True)

    def fresh(self):
        """The URL of an empty database."""
        name = f"s{random.randrange(10 ** 9)}"
        if self.kind == "postgresql":
            with self.connect(f"{self.server}/{self.name}") as db:
                db.execute(f"CREATE SCHEMA {name}")
            return f"{self.server}/{self.name}?options=-csearch_path%3D{name}"
        name = f"{self.name}_{name}"
        self.admin.cursor().execute(f"CREATE DATABASE {name}")
        self.made.append(name)
        return f"{self.server}/{name}"

    def connect(self, url):
        """A connection of the benchmark's own to ``url``, autocommit."""
        if self.kind == "postgresql":
            return self.driver.connect(url, autocommit=True)
        parts = urllib.parse.urlsplit(url)
        return self.driver.connect(host=parts.hostname, port=self.upstream[1],
                                   user=parts.username or "root", password=parts.password or "",
                                   database=parts.path.lstrip("/"), autocommit=True)

    def query(self, url, sql, params=()):
        with self.connect(url) as db:
            cursor = db.cursor()
            cursor.execute(sql, params)
            return cursor.fetchall()

    def bare_commits(self, count):
        with self.connect(self.fresh()) as db:
            cursor = db.cursor()
            cursor.execute("CREATE TABLE t (x INTEGER)")

            def commit(i):
                cursor.execute("BEGIN")
                cursor.execute("INSERT INTO t VALUES (%s)", (i,))
                cursor.execute("COMMIT")
            return timed(lambda i=i: commit(i) for i in range(count))

    def run_of(self, url, job_id, scheduled_for, finished=False):
        """(node, ran_at) of the run of ``job_id`` scheduled for ``scheduled_for``."""
        rows = self.query(url, "SELECT node, ran_at FROM runs WHERE job_id = %s "
                               "AND abs(scheduled_for - %s) < 0.001"
                          + (" AND state != 'running'" if finished else ""),
                          (job_id, scheduled_for))
        return rows[0] if rows else (None, None)

    def close(self):
        if self.kind == "postgresql":
            self.admin.execute(f"DROP DATABASE {self.name} WITH (FORCE)")
        else:
            cursor = self.admin.cursor()
            for name in self.made:
                cursor.execute(f"DROP DATABASE {name}")
        self.admin.close()


def failover(databases, rounds, hang, before, lease=1.5):
    """Lags of the occurrences after a kill (or a hang) of the process that would
    run them, and the stats (to count duplicates)."""
    # Each process reaches the database through its own relay (the test suite's).
    from test_kala import TcpProxy
    url = databases.fresh()
    proxies = [TcpProxy(databases.upstream) for _ in range(3)]
    servers = [Server(proxy.url(url), "--node-lease", str(lease)) for proxy in proxies]
    lags = []
    try:
        begin = time.time() + 2
        job = servers[0].call("POST", "/api/v1/job/", {
            "name": "f", "command": "true", "schedule": f"R/{iso(begin)}/PT0.5S"})["id"]
        time.sleep(3)
        for _ in range(rounds):
            stats = servers[-1].call("GET", f"/api/v1/job/stats/{job}/?limit=1")["job_stats"]
            last = stats[0]
            victim = next(i for i, s in enumerate(servers) if s.node == last["node"])
            due = parse(last["scheduled_for"]) + 0.5
            while due - time.time() < 0.3:
                due += 0.5
            # Just before the next one is claimed (0.1 s ahead), or just after: then
            # the process that claimed it is the one stopped.
            time.sleep(max(0.0, due - before - time.time()))
            claimed = databases.run_of(url, job, due)[0]
            if claimed is not None:
                victim = next(i for i, s in enumerate(servers) if s.node == claimed)
            if hang:
                proxies[victim].hang()
            else:
                servers[victim].process.kill()
            survivor = servers[(victim + 1) % 3]
            deadline = time.time() + lease + 10
            lag = None
            while time.time() < deadline and lag is None:
                for stat in survivor.call("GET", f"/api/v1/job/stats/{job}/?limit=20")[
                        "job_stats"]:
                    if abs(parse(stat["scheduled_for"]) - due) < 0.001:
                        lag = parse(stat["ran_at"]) - due
                time.sleep(0.05)
            if lag is None:  # not seen through the API in time: what does the database say?
                ran_at = databases.run_of(url, job, due, finished=True)[1]
                lag = float("inf") if ran_at is None else ran_at - due
            lags.append(lag)
            if hang:
                proxies[victim].heal()
            else:
                servers[victim].process.wait()
                servers[victim] = Server(proxies[victim].url(url), "--node-lease", str(lease))
            time.sleep(lease + 1.5)
        stats = servers[0].call("GET", f"/api/v1/job/stats/{job}/")["job_stats"]
        scheduled = [s["scheduled_for"] for s in stats]
        return lags, len(scheduled) - len(set(scheduled))
    finally:
        for server in servers:
            if server.process.poll() is None:
                server.stop()
        for proxy in proxies:
            proxy.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get(
        "KALA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432"))
    parser.add_argument("--mysql", default=os.environ.get(
        "KALA_TEST_MYSQL", "mysql://root@127.0.0.1:3306"))
    parser.add_argument("--claims", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--lag-jobs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parts", default="claims,throughput,lag,failover",
                        help="which parts to run, comma-separated")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    servers = {}
    for kind, server in (("postgresql", args.postgres), ("mysql", args.mysql)):
        try:
            servers[kind] = ServerDatabases(kind, server)
        except Exception as exc:  # no driver, no server: that store is left out
            print(f"{kind}: left out ({type(exc).__name__}: {exc})")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            stores = [("sqlite", lambda: os.path.join(tmp, f"{random.randrange(10 ** 9)}.db"))]
            stores += [(kind, databases.fresh) for kind, databases in servers.items()]
            if "claims" in parts:
                print(f"claim transaction, {args.claims} occurrences, one transaction each")
                print(f"{'':34}{'median':>11}{'p99':>11}{'ratio':>8}")
                for name, fresh in stores:
                    bare = (bare_commits(fresh(), args.claims) if name == "sqlite"
                            else servers[name].bare_commits(args.claims))
                    claims, finishes = claim_overhead(fresh(), args.claims)
                    base = statistics.median(bare)
                    for label, values in ((f"{name}: bare commit", bare),
                                          (f"{name}: claim an occurrence", claims),
                                          (f"{name}: record its result", finishes)):
                        print(f"{label:34}{ms(statistics.median(values))}"
                              f"{ms(percentiles(values)[1])}"
                              f"{statistics.median(values) / base:7.1f}x")
            if "throughput" in parts:
                spawn = spawn_rate(2)
                print(f"\nthroughput, {args.jobs} jobs running `true` every 0.1 s, "
                      f"{args.seconds} s; spawn limit from 2 threads {spawn:.0f}/s")
                print(f"{'':24}{'runs/s':>8}{'of spawn':>10}{'lag p50':>11}{'lag p99':>11}"
                      f"{'dupes':>7}{'nodes':>7}{'RSS MB':>8}")
                for name, fresh in stores:
                    for count in (1, 3):
                        rate, lags, duplicates, nodes, rss = throughput(
                            tmp, count, args.jobs, args.seconds, 0.1, db=fresh())
                        p50, p99, _ = percentiles(lags)
                        print(f"{name + f', {count} proc':24}{rate:8.0f}"
                              f"{rate / spawn * 100:9.0f}%{ms(p50)}{ms(p99)}{duplicates:7d}"
                              f"{nodes:7d}{rss:8.0f}")
            if "lag" in parts:
                print(f"\nfiring lag, {args.lag_jobs} jobs a second on one process, 10 s")
                print(f"{'':26}{'p50':>11}{'p99':>11}{'max':>11}{'runs':>13}{'CPU':>7}"
                      f"{'p99 / bare':>12}{'/ SQLite':>10}")
                forking = bare_spawn_lag(args.lag_jobs, 10)
                bare_p99 = percentiles(forking)[1]
                print(f"{'bare loop forking `true`':26}"
                      + "".join(ms(v) for v in percentiles(forking)))
                sqlite_p99 = None
                for name, fresh in stores:
                    lags, _, runs, expected, cpu, _ = kala_lag(args.lag_jobs, 10, db=fresh())
                    p50, p99, top = percentiles(lags)
                    sqlite_p99 = p99 if name == "sqlite" else sqlite_p99
                    print(f"{name:26}{ms(p50)}{ms(p99)}{ms(top)}{f'{runs}/{expected}':>13}"
                          f"{sum(cpu) * 100:6.0f}%{p99 / bare_p99:11.1f}x"
                          + (f"{p99 / sqlite_p99:9.1f}x" if sqlite_p99 else ""))
        if "failover" in parts:
            for kind, databases in servers.items():
                print(f"\nfailover on {kind}, 3 processes, lease 1.5 s, {args.rounds} rounds "
                      f"each: lag of the next occurrence on a survivor")
                for label, hang in (("kill -9", False), ("cut off (hung)", True)):
                    for moment, before in (("before its claim", 0.15),
                                           ("after its claim", 0.05)):
                        lags, duplicates = failover(databases, args.rounds, hang, before)
                        print(f"{label + ', ' + moment:34} "
                              + " ".join(f"{lag:.2f}s" for lag in lags)
                              + f"  (max {max(lags):.2f} s; duplicates {duplicates})")
    finally:
        for databases in servers.values():
            databases.close()


if __name__ == "__main__":
    main()
