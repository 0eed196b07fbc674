"""Firing lag: how late kala.py starts runs, against a bare timer thread.

    python3 bench/firing_lag.py [--jobs 1000] [--seconds 10]

Starts a real ``kala.py serve`` on a fresh SQLite file, creates JOBS jobs that
each run ``true`` every second (PT1S), spread evenly over the second, and lets
them run for SECONDS. The lag of a run is kala's own ran_at minus scheduled_for;
one job in 50 runs ``date +%s.%N`` instead, and the time that process prints
cross-checks ran_at from the outside. Measured in the same run: a bare heapq +
Condition timer thread waking for the same deadlines (the floor any Python
scheduler here stands on), a bare Python loop forking ``true`` at the same rate
(the floor of a scheduler that starts processes from Python; its CPU with
subprocess.Popen, the issue's baseline, and with os.posix_spawn, as kala.py now
starts them), and APScheduler
3 with its SQLAlchemy store on a SQLite file in WAL mode, installed into a
throw-away venv (skipped, saying so, when it cannot be installed).
"""

import argparse
import heapq
import json
import os
import queue
import resource
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (Server, iso, ms, parse, percentiles, run_like_kala,  # noqa: E402
                    spawn_like_kala_now, thread_shares)


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


def bare_spawn_cpu(rate, seconds=3.0, spawn=run_like_kala):
    """CPU share of a bare Python loop starting ``rate`` ``true`` a second, each
    with its output read through a pipe, from 16 threads: the floor for kala's CPU
    (``spawn``: with subprocess.Popen, or with os.posix_spawn as kala.py does now)."""
    tasks = queue.SimpleQueue()

    def run():
        while tasks.get() is not None:
            spawn(["true"])

    threads = [threading.Thread(target=run) for _ in range(16)]
    for thread in threads:
        thread.start()
    count, start = int(rate * seconds), time.time() + 0.2
    before = resource.getrusage(resource.RUSAGE_SELF)
    for i in range(count):
        time.sleep(max(0.0, start + i / rate - time.time()))
        tasks.put(i)
    for _ in threads:
        tasks.put(None)
    for thread in threads:
        thread.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    return (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / seconds


def bare_spawn_lag(rate, seconds):
    """Lateness of a bare Python thread starting ``rate`` ``true`` a second at their
    deadlines, as kala's starter does (own session, output on a pipe), another
    thread reading their output and reaping them: the floor of kala's firing lag
    on this machine, with no database and no other work in the process."""
    started = queue.SimpleQueue()

    def reap():
        for process in iter(started.get, None):
            with process.stdout:
                while os.read(process.stdout.fileno(), 65536):
                    pass
            process.wait()

    reaper = threading.Thread(target=reap)
    reaper.start()
    begin, lags = time.time() + 0.2, []
    try:
        for i in range(int(rate * seconds)):
            when = begin + i / rate
            time.sleep(max(0.0, when - time.time()))
            lags.append(time.time() - when)
            started.put(subprocess.Popen(["true"], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         start_new_session=True))
    finally:
        started.put(None)
        reaper.join()
    return lags


def kala_lag(jobs, seconds, db=None):
    """Firing lag of one serve process (on ``db``: a SQLite file in a temporary
    folder by default, or a PostgreSQL URL)."""
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(db or os.path.join(tmp, "bench.db"))
        try:
            begin = time.time() + 2 + jobs * 0.005
            ids = [server.call("POST", "/api/v1/job/", {
                "name": f"bench-{i}", "command": "date +%s.%N" if i % 50 == 0 else "true",
                "schedule": f"R/{iso(begin + i / jobs)}/PT1S"})["id"] for i in range(jobs)]
            assert time.time() < begin, "creating the jobs took too long; lower --jobs"
            # Measure from the second second on: the first one warms up.
            window = (begin + 1, begin + 1 + seconds)
            time.sleep(max(0.0, window[0] - time.time()))
            cpu_before, threads_before = server.cpu_split(), server.thread_cpu()
            time.sleep(max(0.0, window[1] - time.time()))
            cpu = [(after - before) / seconds
                   for after, before in zip(server.cpu_split(), cpu_before)]
            threads = thread_shares(threads_before, server.thread_cpu(), seconds)
            # Let late runs of the window start before the jobs are stopped.
            time.sleep(1.0)
            for job_id in ids:
                server.call("POST", f"/api/v1/job/disable/{job_id}/")
            lags, printed, runs = [], [], 0
            for job_id in ids:
                for stat in server.call("GET", f"/api/v1/job/stats/{job_id}/")["job_stats"]:
                    scheduled = parse(stat["scheduled_for"])
                    if window[0] <= scheduled < window[1]:
                        runs += 1
                        lags.append(parse(stat["ran_at"]) - scheduled)
                        if stat["output"].strip():
                            printed.append(float(stat["output"]) - scheduled)
            return lags, printed, runs, jobs * seconds, cpu, threads
        finally:
            server.stop()


def apscheduler_lag(jobs, seconds):
    """(lags, runs expected, CPU share) of APScheduler in a venv of its own, or a
    string saying why it could not be measured."""
    venv = os.path.join(tempfile.gettempdir(), "kala-bench-apscheduler")
    python = os.path.join(venv, "bin", "python")
    try:
        if not os.path.exists(python):
            subprocess.run([sys.executable, "-m", "venv", venv], check=True,
                           capture_output=True, timeout=120)
            subprocess.run([python, "-m", "pip", "install", "--quiet", "apscheduler>=3.11,<4",
                            "sqlalchemy"], check=True, capture_output=True, timeout=300)
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(
                [python, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                      "apscheduler_lag.py"),
                 str(jobs), str(seconds), os.path.join(tmp, "aps.db")],
                check=True, capture_output=True, text=True, timeout=seconds + 120)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"APScheduler not measured: {exc}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["lags"], result["expected"], result["cpu"]


def row(label, values):
    p50, p99, top = percentiles(values)
    return f"{label:26}{ms(p50)}{ms(p99)}{ms(top)}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10)

    parser.add_argument("--no-apscheduler", action="store_true",
                        help="skip the APScheduler column")
    args = parser.parse_args()

    bare = bare_timer_lag(args.jobs, 3)
    forking = bare_spawn_lag(args.jobs, args.seconds)
    floor = bare_spawn_cpu(args.jobs)
    spawn_floor = bare_spawn_cpu(args.jobs, spawn=spawn_like_kala_now)
    lags, printed, runs, expected, cpu, threads = kala_lag(args.jobs, args.seconds)
    theirs = ("skipped (--no-apscheduler)" if args.no_apscheduler
              else apscheduler_lag(args.jobs, args.seconds))
    print(f"firing lag, {args.jobs} jobs at PT1S spread over the second, {args.seconds} s")
    print(f"{'':26}{'p50':>11}{'p99':>11}{'max':>11}")
    print(row("bare heapq timer", bare))
    print(row("bare loop forking `true`", forking))
    print(row("kala.py: ran_at", lags))
    print(row("kala.py: date it printed", printed))
    if isinstance(theirs, str):
        print(theirs)
    else:
        print(row("APScheduler+SQLAlchemy WAL", theirs[0]))
    print(f"{'ratio kala/bare':26}" + "".join(
        f"{(o / b if b else float('nan')):10.1f}x"
        for o, b in zip(percentiles(lags), percentiles(bare))))
    print(f"kala.py: {runs} of {expected} runs ({expected - runs} missed), "
          f"server CPU {sum(cpu) * 100:.0f}% of one core (user {cpu[0] * 100:.0f}%, system "
          f"{cpu[1] * 100:.0f}%; goal: p50 <= 1 ms, p99 <= 5 ms, max <= 50 ms, <= 40% CPU)")
    print(f"  by thread: {threads}")
    print(f"a bare Python loop starting {args.jobs} `true`/s with their output read: CPU "
          f"{floor * 100:.0f}% of one core; kala.py / that: {sum(cpu) / floor:.1f}x (goal 1.5x)")
    print(f"the same loop with os.posix_spawn instead of subprocess.Popen: CPU "
          f"{spawn_floor * 100:.0f}% of one core; kala.py / that: {sum(cpu) / spawn_floor:.1f}x")
    if not isinstance(theirs, str):
        print(f"APScheduler: {len(theirs[0])} of {theirs[1]} runs, "
              f"CPU {theirs[2] * 100:.0f}% of one core")


if __name__ == "__main__":
    main()
