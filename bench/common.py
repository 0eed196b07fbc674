"""Helpers shared by the benchmarks: a real kala.py server, times, percentiles."""

import compileall
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

KALA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "kala.py")


def iso(when):
    return datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def percentiles(values):
    """(p50, p99, max) of ``values``, NaN when empty."""
    ordered = sorted(values)
    if not ordered:
        return float("nan"), float("nan"), float("nan")
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return pick(0.50), pick(0.99), ordered[-1]


def ms(seconds):
    return f"{seconds * 1000:8.2f} ms"


def count_in_threads(threads, seconds, step):
    """How many times ``step(slot)`` completed, called in a loop by each of
    ``threads`` threads (slot 0, 1, ...) until ``seconds`` have passed."""
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def loop(slot):
        while time.monotonic() < stop:
            step(slot)
            counts[slot] += 1

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts)


def spawn_rate(threads, seconds=2.0):
    """/bin/true processes started and reaped per second from ``threads`` threads."""
    return count_in_threads(threads, seconds, lambda slot: subprocess.run(["/bin/true"])) / seconds


def run_like_kala(argv=("/bin/true",)):
    """Start a process as kala starts a job (its own session, stdin from
    /dev/null, stdout and stderr on one pipe), read its output, reap it."""
    process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    with process.stdout:
        while os.read(process.stdout.fileno(), 65536):
            pass
    process.wait()


def spawn_like_kala_now(argv=("/bin/true",)):
    """``run_like_kala`` with ``os.posix_spawn`` (how kala.py starts a job on Linux
    since the speed issue) instead of ``subprocess.Popen``."""
    program = shutil.which(argv[0])
    read, write = os.pipe()
    try:
        pid = os.posix_spawn(program, list(argv), os.environ, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, write, 1), (os.POSIX_SPAWN_DUP2, write, 2)], setsid=True)
    finally:
        os.close(write)
    while os.read(read, 65536):
        pass
    os.close(read)
    os.waitpid(pid, 0)


def capture_rate(threads, seconds=2.0):
    """Like ``spawn_rate``, with each process run as kala runs a job."""
    return count_in_threads(threads, seconds, lambda slot: run_like_kala()) / seconds


def cpu_split(pid):
    """(user, system) CPU seconds process ``pid`` has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def thread_cpu(pid):
    """CPU seconds (user + system) process ``pid``'s threads have used so far, by the
    name the system shows for each (kala.py names its own; the workers are summed as
    kala-worker, the connections' threads stay "python")."""
    tick, used = os.sysconf("SC_CLK_TCK"), {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as stat:
                name, _, rest = stat.read().partition(" (")[2].rpartition(") ")
        except OSError:  # the thread ended meanwhile
            continue
        fields = rest.split()
        name = re.sub(r"-\d+$", "", name)
        used[name] = used.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return used


def context_switches(pid):
    """How many times process ``pid``'s threads (those alive now) have been switched
    out so far, waiting (voluntary) or preempted: a count the machine's speed does
    not change, where CPU time swings from run to run."""
    switches = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as status:
                switches += sum(int(line.split()[1]) for line in status
                                if "ctxt_switches:" in line)
        except OSError:  # the thread ended meanwhile
            continue
    return switches


def thread_shares(before, after, seconds):
    """``thread_cpu`` differences as shares of one core, largest first, as text."""
    shares = sorted(((after[name] - before.get(name, 0.0)) / seconds, name)
                    for name in after)
    return ", ".join(f"{name} {share * 100:.0f}%" for share, name in reversed(shares)
                     if share >= 0.005)


class Server:
    """``kala.py serve`` on a free port, with a keep-alive JSON connection.
    ``KALA_SCRIPT=/path/to/other/kala.py`` serves another copy (to compare two).
    It runs as from a user's shell, where Python caches bytecode: without
    PYTHONDONTWRITEBYTECODE (set on some machines, where it made every start compile
    kala.py again, 0.13 s, and changed the memory figures)."""

    def __init__(self, db, *args):
        script = os.environ.get("KALA_SCRIPT", KALA)
        compileall.compile_file(script, quiet=2)  # once: the first start is not a compile
        environment = dict(os.environ)
        environment.pop("PYTHONDONTWRITEBYTECODE", None)
        self.process = subprocess.Popen(
            [sys.executable, script, "serve", "-p", "0", "--db", db, *args],
            stderr=subprocess.PIPE, text=True, env=environment)
        for line in self.process.stderr:
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            self.ready_at = time.monotonic()
            if match:
                self.port = int(match.group(1))
                self.node = re.search(r", node ([^,)]+)", line).group(1)
                break
        else:
            raise RuntimeError("kala.py serve did not start")
        threading.Thread(target=lambda: [None for _ in self.process.stderr],
                         daemon=True).start()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def call(self, method, path, body=None):
        self.conn.request(method, path, body=None if body is None else json.dumps(body))
        response = self.conn.getresponse()
        data = response.read()
        return json.loads(data) if data else None

    def rss_mb(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        return kb / 1024

    def cpu_seconds(self):
        return sum(self.cpu_split())

    def cpu_split(self):
        """(user, system) CPU seconds the server has used so far."""
        return cpu_split(self.process.pid)

    def thread_cpu(self):
        """CPU seconds the server's threads have used so far, by name."""
        return thread_cpu(self.process.pid)

    def stop(self):
        self.process.terminate()
        self.process.wait(60)
