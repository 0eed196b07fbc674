"""Run cost: the server's CPU per run at a steady rate, and which of its threads spends it.

    python3 bench/run_cost.py [--jobs 500] [--seconds 8]

JOBS jobs each run ``true`` every second, spread over the second; once they run,
SECONDS are measured: the server's user and system CPU per run, and each thread's
(by the name kala.py gives it: the timer claims, the starter and the fork helper
start, the watcher follows the commands, the results thread commits), and the
server's thread switches per run (a count the machine's speed does not change). The baseline,
in the same run, before and after the server (the ratio is to their mean): a bare
Python loop starting the same number of ``true`` a second with ``os.posix_spawn``,
each output read through a pipe (``firing_lag.py``'s floor).
``KALA_SCRIPT`` names another kala.py to measure (to compare two).
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Server, context_switches, iso, spawn_like_kala_now, thread_cpu  # noqa: E402
from firing_lag import bare_spawn_cpu  # noqa: E402


def run_cost(jobs, seconds):
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(os.path.join(tmp, "cost.db"))
        try:
            first = time.time() + 2 + jobs * 0.012
            for i in range(jobs):
                server.call("POST", "/api/v1/job/", {
                    "name": f"c{i}", "command": "true",
                    "schedule": f"R/{iso(first + i / jobs)}/PT1S"})
            time.sleep(max(0.0, first + 2 - time.time()))
            ran_before = server.call("GET", "/api/v1/stats/")["Stats"]["success_count"]
            pid = server.process.pid
            threads_before, (user_before, system_before) = thread_cpu(pid), server.cpu_split()
            switches_before = context_switches(pid)
            time.sleep(seconds)
            threads_after, (user_after, system_after) = thread_cpu(pid), server.cpu_split()
            switches = context_switches(pid) - switches_before
            runs = server.call("GET", "/api/v1/stats/")["Stats"]["success_count"] - ran_before
        finally:
            server.stop()
    spent = {name: (threads_after[name] - threads_before.get(name, 0.0)) / runs * 1e6
             for name in threads_after}
    return (runs, (user_after - user_before) / runs * 1e6,
            (system_after - system_before) / runs * 1e6, spent, switches / runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    # The baseline is measured before and after the server (the machine's speed drifts
    # within minutes here); the ratio is to their mean.
    bare_before = bare_spawn_cpu(args.jobs, spawn=spawn_like_kala_now) / args.jobs * 1e6
    runs, user, system, spent, switches = run_cost(args.jobs, args.seconds)
    bare_after = bare_spawn_cpu(args.jobs, spawn=spawn_like_kala_now) / args.jobs * 1e6
    bare = (bare_before + bare_after) / 2
    print(f"run cost: {args.jobs} jobs every second, {args.seconds:g} s measured, {runs} runs")
    print(f"bare loop, os.posix_spawn, output read (baseline)  {bare:6.0f} us of CPU a run "
          f"(before {bare_before:.0f}, after {bare_after:.0f})")
    print(f"kala.py                                           {user + system:6.0f} us of CPU a run "
          f"(user {user:.0f}, system {system:.0f}): {(user + system) / bare:.2f}x the baseline")
    print(f"thread switches a run: {switches:.1f} (waits and preemptions of the server's threads)")
    print("by thread: " + ", ".join(f"{name} {used:.0f} us" for name, used in
                                   sorted(spent.items(), key=lambda item: -item[1])
                                   if used >= 1))


if __name__ == "__main__":
    main()
