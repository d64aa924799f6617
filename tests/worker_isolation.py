"""Loaded with `-p` before Django's settings and before pytest captures output.

Both xdist workers of the scaled-mode run share one Redis; without their own key prefix one worker's
`deliver()` would run the other worker's queued tasks against a database that does not hold their rows.

A test still running after HANG_DUMP_SECONDS writes every thread's stack to the real stderr (duplicated here,
before capture replaces it), so a hang shows where it hangs in the CI log; pytest-timeout then stops the
worker (`timeout` in pyproject.toml) and xdist replaces it.
"""

import faulthandler
import os
import threading
from collections.abc import Iterator

import pytest

_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker:
    os.environ["REDIS_KEY_PREFIX"] = f"{os.environ.get('REDIS_KEY_PREFIX', 'cc')}-test-{_worker}"

HANG_DUMP_SECONDS = 280
_real_stderr = os.fdopen(os.dup(2), "w")


def _dump_stacks(nodeid: str) -> None:
    print(f"\n[{_worker or 'main'}] {nodeid} still running after {HANG_DUMP_SECONDS} s:", file=_real_stderr)
    _real_stderr.flush()
    faulthandler.dump_traceback(file=_real_stderr)
    _real_stderr.flush()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    watchdog = threading.Timer(HANG_DUMP_SECONDS, _dump_stacks, args=(item.nodeid,))
    watchdog.daemon = True
    watchdog.start()
    try:
        return (yield)
    finally:
        watchdog.cancel()
