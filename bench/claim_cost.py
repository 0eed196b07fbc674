"""Claim cost: the CPU of claiming occurrences, ten at a time, as the timer does.

    python3 bench/claim_cost.py [--jobs 500] [--seconds 4] [--rounds 3]

JOBS jobs running every second, spread over it, on a SQLite file; their occurrences
are claimed in groups of ten (what a 20 ms claim batch held at 500 runs a
second), one transaction each, for SECONDS of their schedule, in process. Reports
the claiming thread's CPU per claim (``time.thread_time``: the Python around the
statements, the statements and the commit's fsync), median of ROUNDS, and a bare
SQLite transaction of one ``UPDATE`` in the same file (WAL, synchronous=FULL) as the
baseline. ``KALA_SCRIPT`` names another kala.py to measure (to compare two).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from start_cost import load_kala  # noqa: E402

START = 1800000000.0  # the schedules' first occurrence (2027); "now" follows them


def claim_rounds(kala, path, jobs, seconds, rounds):
    store = kala.open_store(path)
    try:
        made = []
        for i in range(jobs):
            job = kala.job_from_request({"name": f"c{i}", "command": "true", "schedule":
                                         f"R/{kala.format_time(START + i / jobs)}/PT1S"},
                                        now=START - 10)
            store.create_job(job)
            made.append(job.id)
        cursors = dict.fromkeys(made, 0)
        second = 0

        def claim_for(count):
            nonlocal second
            claims = 0
            for _ in range(count):
                for first in range(0, jobs, 10):
                    due = [(job_id, cursors[job_id]) for job_id in made[first:first + 10]]
                    _, timers = store.claim_occurrences(
                        due, START + second + first / jobs, "bench", 60.0, 0.12)
                    for timer in timers:
                        cursors[timer.job_id] = timer.cursor
                    claims += 1
                second += 1
            return claims

        claim_for(1)  # warm: caches, the WAL's first pages
        per_claim = []
        for _ in range(rounds):
            began = time.thread_time()
            claims = claim_for(seconds)
            per_claim.append((time.thread_time() - began) / claims * 1e6)
        return per_claim
    finally:
        store.close()


def bare_transaction(path, count=500):
    import sqlite3
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS bare (id INTEGER PRIMARY KEY, n INTEGER)")
    db.execute("INSERT OR IGNORE INTO bare VALUES (1, 0)")
    began = time.thread_time()
    for _ in range(count):
        db.execute("BEGIN IMMEDIATE")
        db.execute("UPDATE bare SET n = n + 1 WHERE id = 1")
        db.execute("COMMIT")
    used = (time.thread_time() - began) / count * 1e6
    db.close()
    return used


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    kala = load_kala()
    with tempfile.TemporaryDirectory() as tmp:
        bare = bare_transaction(os.path.join(tmp, "bare.db"))
        per_claim = claim_rounds(kala, os.path.join(tmp, "claims.db"), args.jobs,
                                 args.seconds, args.rounds)
    median = statistics.median(per_claim)
    print(f"claim cost: {args.jobs} jobs every second, claimed ten at a time, "
          f"{args.rounds} rounds of {args.seconds} s of their schedule")
    print(f"bare SQLite transaction, one UPDATE (baseline)  {bare:6.0f} us of CPU")
    print(f"kala.py, a claim of ten occurrences             {median:6.0f} us of CPU "
          f"({min(per_claim):.0f}-{max(per_claim):.0f}), {median / bare:.1f}x the baseline, "
          f"{median / 10:.0f} us an occurrence")


if __name__ == "__main__":
    main()
