"""Spawner probe: starting commands from a helper process instead of the server's threads.

    python3 bench/spawner.py [--jobs 1000] [--busy 2]

Issue 26 proposes forking off the server's GIL: a small single-threaded helper process
that gets the starts over a socketpair, spawns them and passes each command's output
descriptor back. kala.py does not do that (yet); this probe measures whether it could
pay, before anyone builds it. A burst of JOBS ``true`` started at once, each with its
stdout and stderr on a pipe whose read end the starting process reads to the end,
three ways, while BUSY threads of the starting process run Python half the time (as
the server's timer, results and watcher threads do in a burst):

- the bare machine: ``/bin/true`` started and reaped from two threads of an idle
  process (the baseline of ``burst.py``);
- in process: kala.py's own ``ProcessSpawner`` (``posix_spawn`` through ctypes, the
  GIL let go) from two threads, as the server starts a burst now;
- a helper process: the requests go in one write over a socketpair, the helper spawns
  them one after the other and sends each pid and output descriptor back
  (SCM_RIGHTS), and reaps them.

Printed: the time until the last command was started, and until every output was read
to its end, for each, and the ratios to the bare machine (burst.py's goal: 1.3).
"""

import argparse
import array
import json
import os
import selectors
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from common import spawn_rate  # noqa: E402
import kala  # noqa: E402

#: The helper: read requests (one JSON argv a line), spawn each with its output on a
#: new pipe, send back "pid started_at" with the read end, reap what exits.
HELPER = r"""
import array, json, os, socket, sys, time
link = socket.socket(fileno=int(sys.argv[1]))
pending = b""
while True:
    data = link.recv(1 << 20)
    if not data:
        break
    pending += data
    *lines, pending = pending.split(b"\n")
    for line in lines:
        argv = json.loads(line)
        read, write = os.pipe()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, write, 1), (os.POSIX_SPAWN_DUP2, write, 2)],
            setsid=True)
        os.close(write)
        link.sendmsg([b"%d %.6f\n" % (pid, time.time())],
                     [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [read]))])
        os.close(read)
        while True:
            try:
                done, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if not done:
                break
"""


def busy_threads(count, stop):
    """``count`` threads each running Python half the time, in slices of about 0.1 ms
    with as long a wait between (as the server's threads take turns in a burst), until
    ``stop`` is set. (Threads that never wait would take the GIL for 5 ms at a time.)"""
    def spin():
        total = 0
        while not stop.is_set():
            total += sum(range(1000))
            time.sleep(0.0001)
    threads = [threading.Thread(target=spin, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads


def read_all(descriptors):
    """Read each descriptor to its end, from one thread (as kala's watcher does)."""
    selector = selectors.DefaultSelector()
    for fd in descriptors:
        selector.register(fd, selectors.EVENT_READ)
    open_count = len(descriptors)
    while open_count:
        for key, _ in selector.select():
            if not os.read(key.fd, 65536):
                selector.unregister(key.fd)
                os.close(key.fd)
                open_count -= 1


def in_process(jobs, busy):
    """Started by kala.py's ProcessSpawner from two threads; outputs read after."""
    spawner = kala.ProcessSpawner()
    program = spawner.find("true", os.environ.get("PATH", os.defpath))
    outputs, pids, lock, stop = [], [], threading.Lock(), threading.Event()
    busy_threads(busy, stop)
    began = time.time()

    def start(count):
        for _ in range(count):
            read, write = os.pipe()
            pid = spawner.spawn(program, ["true"], dict(os.environ), write)
            os.close(write)
            with lock:
                outputs.append(read)
                pids.append(pid)

    starters = [threading.Thread(target=start, args=(share,))
                for share in (jobs // 2, jobs - jobs // 2)]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join()
    last_start = time.time() - began
    read_all(outputs)
    for pid in pids:
        os.waitpid(pid, 0)
    stop.set()
    return last_start, time.time() - began


def helper_process(jobs, busy):
    """Started by a helper process, which passes each output back; outputs read as
    they come."""
    ours, theirs = socket.socketpair()
    helper = subprocess.Popen([sys.executable, "-c", HELPER, str(theirs.fileno())],
                              pass_fds=[theirs.fileno()])
    theirs.close()
    stop = threading.Event()
    busy_threads(busy, stop)
    time.sleep(0.2)  # the helper is up
    program = kala.ProcessSpawner().find("true", os.environ.get("PATH", os.defpath))
    began = time.time()
    ours.sendall(b"".join(json.dumps([program]).encode() + b"\n" for _ in range(jobs)))
    outputs, last_start, pending = [], 0.0, b""
    while len(outputs) < jobs:
        descriptors = array.array("i")
        data, ancillary, _, _ = ours.recvmsg(1 << 16, socket.CMSG_SPACE(64 * 4))
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                descriptors.frombytes(payload[:len(payload) - len(payload) % 4])
        outputs.extend(descriptors)
        pending += data
        *lines, pending = pending.split(b"\n")
        for line in lines:
            last_start = max(last_start, float(line.split()[1]) - began)
    read_all(outputs)
    stop.set()
    ours.close()
    helper.wait(10)
    return last_start, time.time() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--busy", type=int, default=2)
    args = parser.parse_args()
    bare = args.jobs / spawn_rate(2)
    print(f"spawner probe: {args.jobs} `true` at once, {args.busy} busy Python threads")
    print(f"bare machine, 2 threads, idle process      {bare:6.2f} s")
    for name, way in (("in process, ProcessSpawner, 2 threads", in_process),
                      ("a helper process, fds passed back", helper_process)):
        started, read = way(args.jobs, args.busy)
        print(f"{name:42} last started {started:5.2f} s ({started / bare:.2f}x), "
              f"every output read {read:5.2f} s ({read / bare:.2f}x)")


if __name__ == "__main__":
    main()
