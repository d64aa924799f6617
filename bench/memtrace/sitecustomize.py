"""Loaded by the servers of `bench/idle_sockets.py --tracemalloc` (it puts this folder on PYTHONPATH):
trace allocations and write a snapshot to $MEMTRACE_DIR/<pid>-<n>.snap on each SIGUSR2."""

import os
import signal
import tracemalloc

_out = os.environ.get("MEMTRACE_DIR")
if _out:
    tracemalloc.start(8)
    _count = [0]

    def _dump(_signum: int, _frame: object) -> None:
        _count[0] += 1
        tracemalloc.take_snapshot().dump(os.path.join(_out, f"{os.getpid()}-{_count[0]}.snap"))
        open(os.path.join(_out, f"{os.getpid()}-{_count[0]}.done"), "w").close()

    signal.signal(signal.SIGUSR2, _dump)
