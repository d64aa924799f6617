"""The embedded default (one `serve` on SQLite) under 50 conversations at the same time (issue 9).

Starts the real `manage.py serve` on a fresh SQLite file and drives 50 complete live chat conversations
at once through bench/conversations.py (widget sockets, agents' staff sockets and workspace HTTP calls:
first message, offer, answer, four rounds of messages, close, rating). Every conversation must complete
and "database is locked" must appear nowhere: not in a widget or staff error frame, not in an HTTP error
answer, not in the server's log.
"""

from __future__ import annotations

import asyncio
from argparse import Namespace
from collections.abc import Iterator

import pytest
from django.conf import settings

from bench import loadkit
from bench.conversations import drive

CONVERSATIONS = 50

pytestmark = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3",
    reason="checks the embedded default: runs only when the tests run on SQLite",
)


@pytest.fixture
def embedded() -> Iterator[loadkit.Deployment]:
    dep = loadkit.deploy(mode="embedded", agents=10)
    try:
        yield dep
    finally:
        loadkit.teardown(dep)


def test_fifty_conversations_at_once_complete_without_database_is_locked(
    embedded: loadkit.Deployment,
) -> None:
    args = Namespace(concurrent=CONVERSATIONS, think=0.2, timeout=30, drain=45, p99_limit_ms=30_000, rates=[])

    stages, counters = asyncio.run(drive(args, embedded))

    embedded.procs.check_alive()
    stage = stages[0]
    assert stage["failure_samples"] == []
    assert stage["completed"] == CONVERSATIONS
    assert counters.locked() == 0, counters.error_frames + counters.http_errors
    assert loadkit.LOCKED not in embedded.log_text()
