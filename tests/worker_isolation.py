"""Loaded with `-p` before Django's settings: parallel test workers get Redis keys of their own.

Both xdist workers of the scaled-mode run share one Redis; without this one worker's `deliver()` would
run the other worker's queued tasks against a database that does not hold their rows.
"""

import os

_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker:
    os.environ["REDIS_KEY_PREFIX"] = f"{os.environ.get('REDIS_KEY_PREFIX', 'cc')}-test-{_worker}"
