"""Row locks of one conversation do not reach its line (found by the chaos run, bench/chaos.py).

`SELECT ... FOR UPDATE` over joined tables locks the joined rows too on PostgreSQL. Locking a session with
its line (and a chat with its line) made every agent reply and every client message wait for routing on
the line, which holds the line lock and then needs the session: under load PostgreSQL broke the cycle
with "deadlock detected" and the agent's send failed with a 500. Here routing holds the line lock in
another transaction while an agent replies and the client writes: both must go through without waiting.
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


class LineHeldByRouting:
    """Another connection holds the line lock (as `line_distribute` / forwarding do) until released."""

    def __init__(self, line_id: int) -> None:
        self.line_id = line_id
        self.locked = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        try:
            with transaction.atomic():
                routing.line_lock(self.line_id)
                self.locked.set()
                self.release.wait(30)
        finally:
            connections.close_all()

    def __enter__(self) -> LineHeldByRouting:
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


def test_agent_reply_and_client_message_do_not_wait_for_routing_on_the_line(
    line: Any, agents: Any, write: Any
) -> None:
    session = Session.objects.get(pk=write("Hello").session.pk)
    agent = session.operator
    assert agent is not None
    actions.session_answer(user=agent, session_id=session.pk)

    with LineHeldByRouting(line.pk):
        reply = without_waiting(
            lambda: actions.message_send(user=agent, session_id=session.pk, text="How can I help?")
        )
        client = without_waiting(lambda: write("My order is late"))

    assert reply.session_id == session.pk
    assert client.session.pk == session.pk
    written = Message.objects.filter(session=session, author_type__in=["client", "agent"])
    assert list(written.values_list("text", flat=True)) == ["Hello", "How can I help?", "My order is late"]
