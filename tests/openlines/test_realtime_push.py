"""Realtime pushes after commit: one audience query and one group send per group per committed transaction,
in every path (not only a socket's `call_then_push`); nothing from a savepoint that rolled back."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from openlines.services.events import event_publish, session_group, staff_group
from openlines.session_models import RealtimeEvent, Session

pytestmark = pytest.mark.django_db(transaction=True)

Received = Callable[[], list[dict[str, Any]]]


class Rollback(Exception):
    pass


@pytest.fixture
def listen() -> Callable[[str], Received]:
    """Subscribe a channel to `group`; the returned function gives what reached it so far, in order."""
    layer = get_channel_layer()

    def listen(group: str) -> Received:
        channel = async_to_sync(layer.new_channel)()
        async_to_sync(layer.group_add)(group, channel)

        def received() -> list[dict[str, Any]]:
            async def until_marker() -> list[dict[str, Any]]:
                await layer.group_send(group, {"type": "test.end"})
                messages = []
                while (message := await asyncio.wait_for(layer.receive(channel), timeout=5))[
                    "type"
                ] != "test.end":
                    messages.append(message)
                return messages

            return async_to_sync(until_marker)()

        return received

    return listen


def event_types(messages: list[dict[str, Any]]) -> list[list[str]]:
    """Per message, the types of the events it carries."""
    return [
        [event["type"] for event in (message["events"] if "events" in message else [message["event"]])]
        for message in messages
    ]


@pytest.fixture
def session(write, agents) -> Session:
    session = Session.objects.get(pk=write("Hi").session.pk)
    assert session.operator_id == agents[0].pk
    return session


def audience_queries(captured: CaptureQueriesContext) -> int:
    return sum("openlines_sessionparticipant" in query["sql"] for query in captured.captured_queries)


def test_two_events_of_one_transaction_cost_one_audience_query_and_one_send_per_group(
    session, agents, listen
):
    to_agent = listen(staff_group(agents[0].pk))
    to_watchers = listen(session_group(session.pk))
    with CaptureQueriesContext(connection) as captured:
        with transaction.atomic():
            event_publish(type="test.one", session=session, payload={})
            event_publish(type="test.two", session=session, payload={})
    assert audience_queries(captured) == 1
    assert event_types(to_agent()) == [["test.one", "test.two"]]
    assert event_types(to_watchers()) == [["test.one", "test.two"]]


def test_an_agent_who_took_the_conversation_between_commit_and_push_gets_the_push(session, agents, listen):
    # Their resync would show the event (they hold the conversation now), so the push must reach them too.
    to_new_agent = listen(staff_group(agents[1].pk))
    to_old_agent = listen(staff_group(agents[0].pk))
    as_published = Session.objects.get(pk=session.pk)
    with transaction.atomic():
        event_publish(type="test.message", session=as_published, payload={})
        # What a transfer committed by another process in between leaves in the database.
        Session.objects.filter(pk=session.pk).update(operator=agents[1])
    assert event_types(to_new_agent()) == [["test.message"]]
    assert event_types(to_old_agent()) == [["test.message"]]


def test_events_of_a_rolled_back_savepoint_are_never_pushed(session, agents, listen):
    to_agent = listen(staff_group(agents[0].pk))
    with transaction.atomic():
        event_publish(type="test.kept", session=session, payload={})
        with pytest.raises(Rollback), transaction.atomic():
            event_publish(type="test.dropped", session=session, payload={})
            event_publish(type="test.dropped.too", session=session, users=[agents[1].pk], payload={})
            raise Rollback
    # The last publication of the transaction was rolled back: what committed before it is still pushed.
    assert event_types(to_agent()) == [["test.kept"]]
    assert not RealtimeEvent.objects.filter(type__startswith="test.dropped").exists()


def test_a_transaction_whose_only_events_rolled_back_pushes_nothing_and_the_next_one_is_pushed(
    session, agents, listen
):
    to_agent = listen(staff_group(agents[0].pk))
    with CaptureQueriesContext(connection) as captured:
        with transaction.atomic():
            with pytest.raises(Rollback), transaction.atomic():
                event_publish(type="test.dropped", session=session, payload={})
                raise Rollback
    assert audience_queries(captured) == 0
    with transaction.atomic():
        event_publish(type="test.next", session=session, payload={})
    assert event_types(to_agent()) == [["test.next"]]


def test_events_of_two_transactions_are_pushed_per_transaction_in_order(session, agents, listen):
    to_agent = listen(staff_group(agents[0].pk))
    with CaptureQueriesContext(connection) as captured:
        with transaction.atomic():
            event_publish(type="test.first", session=session, payload={})
            event_publish(type="test.second", session=session, payload={})
        with transaction.atomic():
            event_publish(type="test.third", session=session, payload={})
    assert audience_queries(captured) == 2
    assert event_types(to_agent()) == [["test.first", "test.second"], ["test.third"]]


def test_a_transaction_committed_by_a_commit_callback_does_not_overtake_earlier_events(
    session, agents, listen
):
    to_agent = listen(staff_group(agents[0].pk))

    def later_transaction() -> None:
        with transaction.atomic():
            event_publish(type="test.callback", session=session, payload={})

    with transaction.atomic():
        event_publish(type="test.before", session=session, payload={})
        transaction.on_commit(later_transaction)
        event_publish(type="test.after", session=session, payload={})
    flat = [event for message in event_types(to_agent()) for event in message]
    assert flat == ["test.before", "test.callback", "test.after"]


def test_an_event_published_outside_a_transaction_is_pushed_at_once(session, agents, listen):
    to_agent = listen(staff_group(agents[0].pk))
    event_publish(type="test.autocommit", session=session, payload={})
    assert event_types(to_agent()) == [["test.autocommit"]]
