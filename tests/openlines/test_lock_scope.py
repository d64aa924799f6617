"""Row locks of one conversation do not block its other writers (found by the chaos run, bench/chaos.py).

On PostgreSQL `SELECT ... FOR UPDATE` over joined tables also locks the joined rows, and a FOR UPDATE lock
blocks the key-share lock a foreign key check takes. So an agent's reply (which locked its session with the
line and chat) waited for routing on the line, and a client's message (which holds its chat, then needs the
session) deadlocked with a reply in the same conversation (which holds the session and inserts a message
referring to the chat): PostgreSQL broke the cycles with "deadlock detected", i.e. a 500 for the agent or
a dropped widget socket. Here another transaction holds the line as routing does while the agent replies
and the client writes: both must go through without waiting. (The chat/session cycle is covered with
threads in tests/openlines/test_ingest_concurrency.py of the engine work, which made the same fix.)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, transaction

from openlines.services import actions, routing
from openlines.session_models import Message, Session

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL only"),
]


class HeldElsewhere:
    """Another connection runs `lock` in a transaction and keeps it open until the block ends."""

    def __init__(self, lock: Callable[[], Any]) -> None:
        self.lock = lock
        self.locked = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        try:
            with transaction.atomic():
                self.lock()
                self.locked.set()
                self.release.wait(30)
        finally:
            connections.close_all()

    def __enter__(self) -> HeldElsewhere:
        self.thread.start()
        assert self.locked.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(30)


def without_waiting(action: Callable[[], Any]) -> Any:
    """Run `action` in a transaction that gives up on any lock wait after 2 s."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '2s'")
        return action()


@pytest.fixture
def answered(write: Any) -> Session:
    session = Session.objects.get(pk=write("Hello").session.pk)
    actions.session_answer(user=operator(session), session_id=session.pk)
    return session


def operator(session: Session) -> Any:
    assert session.operator is not None
    return session.operator


def written(session: Session) -> list[str]:
    messages = Message.objects.filter(session=session, author_type__in=["client", "agent"])
    return list(messages.values_list("text", flat=True))


def test_replies_and_client_messages_do_not_wait_for_routing_on_the_line(
    line: Any, answered: Session, write: Any
) -> None:
    agent = operator(answered)
    with HeldElsewhere(lambda: routing.line_lock(line.pk)):
        without_waiting(
            lambda: actions.message_send(user=agent, session_id=answered.pk, text="How can I help?")
        )
        without_waiting(lambda: write("My order is late"))

    assert written(answered) == ["Hello", "How can I help?", "My order is late"]
