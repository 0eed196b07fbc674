"""Firing lag: how late kala.py starts runs, against a bare timer thread.

    python3 bench/firing_lag.py [--jobs 1000] [--seconds 10]

Starts a real ``kala.py serve`` on a fresh SQLite file, creates JOBS jobs that
each run ``true`` every second (PT1S), spread evenly over the second, and lets
them run for SECONDS. The lag of a run is kala's own RanAt minus ScheduledFor.
The baseline, measured in the same run, is a bare heapq + Condition timer
thread waking for the same pattern of deadlines: the floor any Python
scheduler on this machine stands on.
"""

import argparse
import heapq
import os
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server, iso, ms, parse, percentiles  # noqa: E402


def bare_timer_lag(jobs, seconds):
    """Lateness of a heapq + Condition timer thread for the same deadlines."""
    cond = threading.Condition()
    start = time.time() + 0.2
    heap = [(start + i / jobs, i) for i in range(jobs)]
    heapq.heapify(heap)
    lags, end = [], start + seconds
    with cond:
        while heap:
            when, i = heap[0]
            delay = when - time.time()
            if delay > 0:
                cond.wait(delay)
                continue
            heapq.heappop(heap)
            lags.append(time.time() - when)
            if when + 1 < end:
                heapq.heappush(heap, (when + 1, i))
    return lags


def kala_lag(jobs, seconds):
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(os.path.join(tmp, "bench.db"))
        try:
            begin = time.time() + 2 + jobs * 0.005
            ids = [server.call("POST", "/api/v1/job/", {
                "name": f"bench-{i}", "command": "true",
                "schedule": f"R/{iso(begin + i / jobs)}/PT1S"})["id"] for i in range(jobs)]
            assert time.time() < begin, "creating the jobs took too long; lower --jobs"
            # Measure from the second second on: the first one warms up.
            window = (begin + 1, begin + 1 + seconds)
            time.sleep(max(0.0, window[0] - time.time()))
            cpu_before = server.cpu_seconds()
            time.sleep(max(0.0, window[1] - time.time()))
            cpu = (server.cpu_seconds() - cpu_before) / seconds
            # Let late runs of the window start before the jobs are stopped.
            time.sleep(1.0)
            for job_id in ids:
                server.call("POST", f"/api/v1/job/disable/{job_id}/")
            lags, runs = [], 0
            for job_id in ids:
                for stat in server.call("GET", f"/api/v1/job/stats/{job_id}/")["job_stats"]:
                    scheduled = parse(stat["ScheduledFor"])
                    if window[0] <= scheduled < window[1]:
                        runs += 1
                        lags.append(parse(stat["RanAt"]) - scheduled)
            return lags, runs, jobs * seconds, cpu
        finally:
            server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()

    base = percentiles(bare_timer_lag(args.jobs, 3))
    lags, runs, expected, cpu = kala_lag(args.jobs, args.seconds)
    ours = percentiles(lags)
    print(f"firing lag, {args.jobs} jobs at PT1S spread over the second, {args.seconds} s")
    print(f"{'':22}{'p50':>11}{'p99':>11}{'max':>11}")
    print(f"{'bare heapq timer':22}{ms(base[0])}{ms(base[1])}{ms(base[2])}")
    print(f"{'kala.py (sqlite)':22}{ms(ours[0])}{ms(ours[1])}{ms(ours[2])}")
    print(f"{'ratio kala/bare':22}" + "".join(
        f"{(o / b if b else float('nan')):10.1f}x" for o, b in zip(ours, base)))
    print(f"runs: {runs} of {expected} expected ({expected - runs} missed); "
          f"server CPU {cpu * 100:.0f}% of one core; median lag "
          f"{statistics.median(lags) * 1000 if lags else float('nan'):.2f} ms")


if __name__ == "__main__":
    main()
