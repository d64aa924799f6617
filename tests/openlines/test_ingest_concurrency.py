"""Ingest racing other transactions of the same conversation, each thread on its own connection.

Locks are taken on the rows themselves only (`of=self`; a FOR UPDATE with joins used to lock the line,
chat, client and connector rows too, serialising a line's traffic). With a session lock that no longer
covers the chat, a client message that locks the chat and then waits for the session must not block an
agent's transaction that holds the session and inserts a message (a KEY SHARE lock on the chat through
the foreign key): that is a deadlock unless the chat is locked FOR NO KEY UPDATE. And whatever race
PostgreSQL still breaks by failing the ingest is run again inside the service, never an HTTP 500.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection, connections, transaction

from contactcenter.models import Connector, EmployeeProfile
from contactcenter.services.availability import presence_connect
from openlines.models import OpenLine, QueueMember
from openlines.services import actions, lifecycle
from openlines.services.ingest import InboundClient, InboundMessage, message_ingest
from openlines.session_models import Message, Session

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="interleaves two transactions on row locks; SQLite runs one writer at a time",
    ),
]

# What PostgreSQL raises in the transaction it ends to break a deadlock (SQLSTATE 40P01).
RAISE_DEADLOCK = "DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected'; END $$"


def _answered_conversation() -> tuple[Connector, Any, Session]:
    line = OpenLine.objects.create(line_name="Race", language_id="en", queue_type=OpenLine.QueueType.EVENLY)
    agent = get_user_model().objects.create_user(username="race-agent", first_name="Agent")
    EmployeeProfile.objects.create(user=agent)
    presence_connect(user_id=agent.pk)
    QueueMember.objects.create(line=line, user=agent, sort=0)
    connector = Connector.objects.create(kind="rest", line=line, name="REST")
    session = message_ingest(
        connector=connector,
        client=InboundClient(external_id="race-client", name="Client"),
        message=InboundMessage(external_id="race-1", text="Hello"),
    ).session
    actions.session_answer(user=agent, session_id=session.pk)
    return connector, agent, session


def _others_wait_for_a_lock(timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.01)
    return False


def test_a_client_message_while_the_agent_writes_in_the_same_conversation_is_stored_without_error():
    connector, agent, session = _answered_conversation()
    agent_holds_session = threading.Event()
    errors: list[BaseException] = []

    def agent_writes() -> None:
        try:
            with transaction.atomic():
                locked = lifecycle.session_lock(session.pk)
                agent_holds_session.set()
                # Give the client's message time to reach the session lock and wait there. Whether it got
                # that far in time depends on the machine's load, so it is not asserted: the outcome is.
                _others_wait_for_a_lock()
                lifecycle.session_on_agent_message(locked, user_id=agent.pk, at=locked.modified_at)
                lifecycle.message_post(
                    session=locked, author_type=Message.Author.AGENT, author_id=agent.pk, text="On it"
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def client_writes() -> None:
        try:
            agent_holds_session.wait(10)
            message_ingest(
                connector=connector,
                client=InboundClient(external_id="race-client", name="Client"),
                message=InboundMessage(external_id="race-2", text="Are you there?"),
            )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=agent_writes), threading.Thread(target=client_writes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert not errors, errors
    texts = list(
        Message.objects.filter(session=session, author_type__in=["client", "agent"]).values_list(
            "text", flat=True
        )
    )
    assert sorted(texts) == sorted(["Hello", "On it", "Are you there?"])
    assert Session.objects.filter(chat=session.chat, closed=False).count() == 1


def test_a_lost_deadlock_is_retried_inside_the_ingest_not_raised(monkeypatch):
    """Whatever race PostgreSQL breaks by failing the ingest (deadlock, serialization failure), the
    integrator gets the message stored, not an error: the whole ingest transaction runs again."""
    from openlines.services import ingest

    connector, _agent, session = _answered_conversation()
    original = ingest._ingest
    calls: list[int] = []

    def deadlocked_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        result = original(*args, **kwargs)
        if len(calls) == 1:
            # A real deadlock error from the server, after the work was done (it must all roll back).
            with connection.cursor() as cursor:
                cursor.execute(RAISE_DEADLOCK)
        return result

    monkeypatch.setattr(ingest, "_ingest", deadlocked_once)
    result = message_ingest(
        connector=connector,
        client=InboundClient(external_id="race-client", name="Client"),
        message=InboundMessage(external_id="race-3", text="Once"),
    )
    assert len(calls) == 2
    assert not result.duplicate
    assert Message.objects.filter(session=session, external_id="race-3").count() == 1


def test_a_deadlock_inside_a_caller_transaction_is_left_to_the_caller(monkeypatch):
    from openlines.services import ingest

    connector, _agent, _session = _answered_conversation()

    def deadlocked(*args: Any, **kwargs: Any) -> Any:
        with connection.cursor() as cursor:
            cursor.execute(RAISE_DEADLOCK)

    monkeypatch.setattr(ingest, "_ingest", deadlocked)
    with pytest.raises(OperationalError), transaction.atomic():
        message_ingest(
            connector=connector,
            client=InboundClient(external_id="race-client", name="Client"),
            message=InboundMessage(external_id="race-4", text="Inside"),
        )
