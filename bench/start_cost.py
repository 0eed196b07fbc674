"""Start cost: the server's own CPU to start one run's command.

    python3 bench/start_cost.py [--starts 400] [--rounds 4]

Starts ``true`` STARTS times the way the server's starter does (``CommandRunner.spawn``
with the environment a run gets: the server's, the job's and the six KALA_ variables;
its output on a pipe), and reports the CPU time of the starting thread per start
(``time.thread_time``: what the start costs the server, not the child's exec). The
baseline, in the same run: ``os.posix_spawn`` of the same program with the same
environment and no pipe, the C library's call made from C. ``KALA_SCRIPT`` names
another kala.py to measure (to compare two).
"""

import argparse
import importlib.util
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import KALA  # noqa: E402


def load_kala():
    spec = importlib.util.spec_from_file_location("kala", os.environ.get("KALA_SCRIPT", KALA))
    module = importlib.util.module_from_spec(spec)
    sys.modules["kala"] = module
    spec.loader.exec_module(module)
    return module


def run_environment(number):
    return {"KALA_JOB_ID": f"job-{number % 100}", "KALA_JOB_NAME": f"b{number % 100}",
            "KALA_RUN_ID": str(number), "KALA_TRIGGER": "schedule",
            "KALA_SCHEDULED_FOR": "2026-12-07T19:00:00.000Z", "KALA_NODE": "host:1"}


def kala_starts(runner, starts):
    """Thread CPU per start, in microseconds."""
    started = []
    before = time.thread_time()
    for number in range(starts):
        started.append(runner.spawn("true", run_environment(number)))
    used = time.thread_time() - before
    for process in started:
        process.wait()
        process.stdout.close()
    return used / starts * 1e6


def bare_starts(environment, starts):
    pids = []
    before = time.thread_time()
    for number in range(starts):
        pids.append(os.posix_spawn("/bin/true", ["true"],
                                   {**environment, **run_environment(number)}, setsid=True))
    used = time.thread_time() - before
    for pid in pids:
        os.waitpid(pid, 0)
    return used / starts * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    kala = load_kala()
    runner = kala.CommandRunner()
    kala_starts(runner, 20)  # its caches and file actions made, as in a running server
    ours, bare = [], []
    for _ in range(args.rounds):
        ours.append(kala_starts(runner, args.starts))
        bare.append(bare_starts(runner.base_environment, args.starts))
    print(f"start cost: {args.starts} starts of `true`, {args.rounds} rounds; CPU of the "
          f"starting thread per start")
    print(f"os.posix_spawn from C (baseline)   median {statistics.median(bare):6.1f} us  "
          f"({min(bare):.1f}-{max(bare):.1f})")
    print(f"kala.py CommandRunner.spawn        median {statistics.median(ours):6.1f} us  "
          f"({min(ours):.1f}-{max(ours):.1f}), "
          f"{statistics.median(ours) / statistics.median(bare):.2f}x the baseline")


if __name__ == "__main__":
    main()
