"""Where a server's CPU goes, call by call: kala.py with its busiest methods timed.

    KALA_SCRIPT=bench/probe_calls.py python3 bench/run_cost.py
    KALA_SCRIPT=bench/probe_calls.py python3 bench/burst.py

Loaded in place of kala.py by any benchmark (``KALA_SCRIPT``), it imports kala.py
(``KALA_PROBED``, or the one beside this folder), wraps the methods a run passes
through with the calling thread's CPU time (``time.thread_time``: what the call cost
its thread, system time included, waits not) and serves as kala.py would. When the
server stops it writes, a line per method, the calls, the CPU per call and in all,
to ``KALA_PROBE_OUT`` (default ``probe_calls.txt`` in the working folder).

Sampling profilers fell seconds behind on a 2-core machine busy with the server and
its children; a wrapper costs ~1 us a call and misses nothing. A call's CPU in the
server is often several times what the same call costs alone.
"""

import collections
import importlib.util
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))

#: The methods timed, by class: a run's way from its claim to its result.
PROBED = {
    "Timing": ["run_due"],
    "_ClaimRecords": ["claim_occurrences"],
    "StartQueue": ["wait", "pop_due", "push"],
    "Starter": ["start_due", "_ready", "_mark", "_start_command", "_cleared", "_attempted"],
    "Lease": ["confirm", "may_fork", "clearance"],
    "RunAttempts": ["environment", "note_lag"],
    "CommandRunner": ["start"],
    "EndableCommands": ["add"],
    "CommandWatcher": ["follow", "_event", "_finish"],
    "Completion": ["record", "_recorded", "_log_result"],
}


class CallCosts:
    """Thread CPU per call of the wrapped methods, from every thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self.spent = collections.defaultdict(float)
        self.calls = collections.Counter()

    def wrap(self, cls, name):
        method, label = getattr(cls, name), f"{cls.__name__}.{name}"
        clock = time.thread_time

        def timed(*args, **kwargs):
            began = clock()
            try:
                return method(*args, **kwargs)
            finally:
                used = clock() - began
                with self._lock:
                    self.spent[label] += used
                    self.calls[label] += 1

        setattr(cls, name, timed)

    def report(self):
        lines = []
        for label, spent in sorted(self.spent.items(), key=lambda item: -item[1]):
            calls = self.calls[label]
            lines.append(f"{label:40s} {calls:8d} calls {spent / calls * 1e6:9.1f} us a call "
                         f"{spent:8.3f} s in all")
        return "\n".join(lines) + "\n"


def load_kala():
    path = os.environ.get("KALA_PROBED") or os.path.join(HERE, "..", "kala.py")
    spec = importlib.util.spec_from_file_location("kala", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["kala"] = module
    spec.loader.exec_module(module)
    return module


def main():
    kala = load_kala()
    costs = CallCosts()
    for class_name, names in PROBED.items():
        for name in names:
            costs.wrap(getattr(kala, class_name), name)
    try:
        return kala.main(sys.argv[1:])
    finally:
        with open(os.environ.get("KALA_PROBE_OUT", "probe_calls.txt"), "w") as out:
            out.write(costs.report())


if __name__ == "__main__":
    sys.exit(main())
