"""Every benchmark, one after the other, in under five minutes.

    python3 bench/run_all.py

Runs firing_lag (with the APScheduler column), burst, start_cost, run_cost,
several_processes, scale, api and page (it needs playwright and Chromium) with the settings the README reports, printing each one's
output as it comes and how long it took.
"""

import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHMARKS = [
    ("firing_lag.py", "--jobs", "1000", "--seconds", "10"),
    ("burst.py", "--jobs", "1000"),
    ("start_cost.py", "--starts", "400"),
    ("run_cost.py", "--jobs", "500", "--seconds", "8"),
    ("several_processes.py", "--jobs", "200", "--seconds", "3", "--claims", "300"),
    ("scale.py", "--jobs", "100000"),
    ("api.py", "--seconds", "5"),
    ("page.py", "--rounds", "3"),
]


def main():
    began = time.monotonic()
    failed = []
    for script, *args in BENCHMARKS:
        print(f"\n=== {script} {' '.join(args)}", flush=True)
        started = time.monotonic()
        done = subprocess.run([sys.executable, os.path.join(HERE, script), *args])
        print(f"=== {script}: {time.monotonic() - started:.0f} s", flush=True)
        if done.returncode:
            failed.append(script)
    print(f"\nall benchmarks: {time.monotonic() - began:.0f} s"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
