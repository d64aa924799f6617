"""Size limits of the API at the edges: message text of exactly the maximum is stored, one character more
is a 400 naming the field (test_sessions_api, test_rest_connector); a body over Django's upload limit is a
413 with the usual error shape, for staff tokens and for machine clients alike, and stores nothing."""

from __future__ import annotations

import json

import pytest

from openlines.services.actions import MAX_MESSAGE_LENGTH
from openlines.session_models import Message
from tests.api.conftest import post
from tests.api.test_bots_api import bot, call, session  # noqa: F401  (bot fixtures)
from tests.api.test_sessions_api import a1, url  # noqa: F401  (an agent's API client)
from tests.api.test_sessions_api import session as agent_session  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

TOO_LARGE = {"errors": {"__all__": ["The body is too large."]}}


@pytest.fixture(autouse=True)
def _fresh_limits(fresh_cache):
    """Rate-limit counters of this test only."""


def test_rest_connector_message_of_the_maximum_length_is_stored(integrator):
    response = integrator.send("x" * MAX_MESSAGE_LENGTH, msg_id="long")
    assert response.status_code == 201, response.content
    assert Message.objects.get(author_type="client").text == "x" * MAX_MESSAGE_LENGTH


def test_rest_connector_body_over_the_upload_limit_is_413_and_nothing_is_stored(integrator, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 5000
    response = integrator.send("x" * 6000, msg_id="big")
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert not Message.objects.exists()
    assert integrator.send("fits", msg_id="small").status_code == 201


def test_agent_message_of_the_maximum_length_is_stored(a1, agent_session):  # noqa: F811
    response = post(a1, url(agent_session, "messages"), {"text": "y" * MAX_MESSAGE_LENGTH})
    assert response.status_code == 201, response.content
    assert len(response.json()["text"]) == MAX_MESSAGE_LENGTH


def test_agent_message_body_over_the_upload_limit_is_413(a1, agent_session, settings):  # noqa: F811
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 5000
    response = a1.post(
        url(agent_session, "messages"), json.dumps({"text": "y" * 6000}), content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert not Message.objects.filter(session=agent_session, author_type="agent").exists()


def test_bot_message_limits(bot, session, settings):  # noqa: F811
    assert call(bot, session, "message", {"text": "z" * MAX_MESSAGE_LENGTH}).status_code == 201
    over = call(bot, session, "message", {"text": "z" * (MAX_MESSAGE_LENGTH + 1)})
    assert over.status_code == 400
    assert over.json()["errors"]["text"] == [f"A message can be at most {MAX_MESSAGE_LENGTH} characters."]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 5000
    too_large = call(bot, session, "message", {"text": "z" * 6000})
    assert too_large.status_code == 413 and too_large.json() == TOO_LARGE
    texts = Message.objects.filter(author_type="bot").values_list("text", flat=True)
    assert sorted(len(text) for text in texts if set(text) == {"z"}) == [MAX_MESSAGE_LENGTH]
