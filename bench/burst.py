"""Burst: many jobs due at the same instant.

    python3 bench/burst.py [--jobs 1000]

Creates JOBS jobs that each run ``true`` once, all at the same instant T, and
reports how long after T the last of them started (kala's own ran_at) and the
last finished. The baseline, measured in the same run, is the time the bare
machine needs to start and reap that many ``/bin/true`` from two threads; a
second one starts them as kala does (own session, output read through a pipe).
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server, capture_rate, iso, parse, spawn_rate  # noqa: E402


def burst(jobs):
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(os.path.join(tmp, "burst.db"))
        try:
            # One client creates them one after another: ~1 ms each on a fast machine,
            # 3-10 ms on a slow one; what is left of the lead is waited out.
            at = time.time() + 3 + jobs * 0.01
            ids = []
            for i in range(jobs):
                created = server.call("POST", "/api/v1/job/", {
                    "name": f"b{i}", "command": "true", "schedule": f"R0/{iso(at)}/"})
                if "id" not in created:
                    raise SystemExit(f"burst: creating the jobs took too long ({created}); "
                                     f"lower --jobs")
                ids.append(created["id"])
            deadline = at + 120
            while time.time() < deadline:
                stats = server.call("GET", "/api/v1/stats/")["Stats"]
                if stats["success_count"] + stats["error_count"] >= jobs:
                    break
                time.sleep(0.2)
            started, finished = [], []
            for job_id in ids:
                for stat in server.call("GET", f"/api/v1/job/stats/{job_id}/")["job_stats"]:
                    started.append(parse(stat["ran_at"]))
                    finished.append(parse(stat["ran_at"]) + stat["execution_duration"] / 1e9)
            return len(started), max(started) - at, max(finished) - at
        finally:
            server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    args = parser.parse_args()
    spawn, capture = spawn_rate(2), capture_rate(2)
    base, captured = args.jobs / spawn, args.jobs / capture
    runs, last_start, last_end = burst(args.jobs)
    print(f"burst: {args.jobs} jobs due at the same instant")
    print(f"bare: {args.jobs} x /bin/true from 2 threads    {base:6.2f} s  ({spawn:.0f}/s)")
    print(f"same, output read as kala does it      {captured:6.2f} s  ({capture:.0f}/s)")
    print(f"kala.py: last run started after            {last_start:6.2f} s  "
          f"ratio {last_start / base:.2f} (goal <= 1.3); {last_start / captured:.2f} of the second")
    print(f"kala.py: last run finished after           {last_end:6.2f} s  "
          f"ratio {last_end / base:.2f}; {runs} of {args.jobs} ran")


if __name__ == "__main__":
    main()
