"""The engine's extension points fire once per change, inside the transaction."""

from __future__ import annotations

import pytest

from openlines import signals
from openlines.services import actions
from tests.openlines.conftest import reload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def received():
    log = []
    handlers = {}
    for name in (
        "session_created",
        "client_message_received",
        "agent_message_sent",
        "session_operator_changed",
        "session_closed",
    ):

        def handler(sender, name=name, **kwargs):
            kwargs.pop("signal", None)
            log.append((name, {k: getattr(v, "pk", v) for k, v in kwargs.items()}))

        handlers[name] = handler
        getattr(signals, name).connect(handler)
    yield log
    for name, handler in handlers.items():
        getattr(signals, name).disconnect(handler)


def test_a_conversation_emits_each_signal_in_order(write, agents, line, received):
    line.full_close_time = 0
    line.save()
    session = write("Hi").session
    actions.message_send(user=agents[0], session_id=session.pk, text="Hello")
    actions.session_transfer(user=agents[0], session_id=session.pk, to_user_id=agents[1].pk)
    actions.session_close(user=agents[1], session_id=session.pk)
    names = [name for name, _ in received]
    assert names[0] == "session_created"
    assert names[1] == "client_message_received"
    assert (
        "session_operator_changed",
        {"session": session.pk, "previous_id": None, "operator_id": agents[0].pk, "manual": False},
    ) in received
    assert (
        "session_operator_changed",
        {"session": session.pk, "previous_id": agents[0].pk, "operator_id": agents[1].pk, "manual": True},
    ) in received
    assert names.count("agent_message_sent") == 1
    assert names[-1] == "session_closed" and reload(session).closed
