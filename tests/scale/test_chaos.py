"""The chaos run in its short form (issue 9): a scaled deployment loses nothing when processes die.

Two ASGI processes, the timer process and the task worker run on this PostgreSQL and Redis; widget
clients and agents talk over both ASGI processes while one of them, the worker and the timer process are
killed with SIGKILL and restarted. Afterwards every client and agent must have received every message
the database holds for them, no message is stored twice, and each auto-close and forwarding that fell
due was applied once (bench/chaos.py; the long form is `python bench/chaos.py --duration 300 ...`).

Runs only in the scaled mode, on a database and Redis key prefix of its own, named after the xdist
worker so the two CI workers cannot collide.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import pytest

from bench.chaos import ChaosConfig, run_chaos

pytestmark = pytest.mark.slow

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
SCALED = DATABASE_URL.startswith(("postgres://", "postgresql://")) and bool(REDIS_URL)


@pytest.mark.skipif(
    not SCALED, reason="the chaos run needs the scaled mode: DATABASE_URL on PostgreSQL and REDIS_URL"
)
def test_no_message_or_deadline_lost_when_processes_are_killed() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    parts = urlsplit(DATABASE_URL)
    database = f"{parts.path.lstrip('/') or 'cc'}_chaos_{worker}"
    config = ChaosConfig(
        database_url=urlunsplit((parts.scheme, parts.netloc, f"/{database}", "", "")),
        redis_url=REDIS_URL,
        redis_prefix=f"{os.environ.get('REDIS_KEY_PREFIX', 'cc')}-chaos-{worker}-{os.getpid()}",
        clients=16,
        agents=6,
        duration=30,
        kill_at=10,
        down_for=4,
    )

    result = run_chaos(config)

    assert result["ok"], "\n".join(result["problems"]) + "\n" + result.get("logs", "")
    # The chaos happened and reached the clients: they reconnected and resynced, deadlines fell due.
    assert result["clients"]["reconnects"] >= 1
    assert result["clients"]["sent"] >= 50
    assert result["clients"]["received"] == result["clients"]["expected"]
    assert result["agents"]["received"] == result["agents"]["expected"]
    assert result["auto_closed"] >= 10
    assert result["forwards"] >= 3
    assert result["seconds"] <= 110
