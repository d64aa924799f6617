"""Per-token rate limits of the API over HTTP: the REST connector's token, a personal API token and a
bot's secret. Over the limit: 429, Retry-After, the usual error shape, nothing stored; other tokens
unaffected; the counter starts again after the window."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from contactcenter import ratelimit
from openlines.session_models import Message
from tests.access_helpers import grant
from tests.api.conftest import api_client, post
from tests.api.test_bots_api import bot, call, session  # noqa: F401  (bot fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def three_per_window(settings, fresh_cache, monkeypatch):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    monkeypatch.setattr(ratelimit, "API_WINDOW_SECONDS", 2)


def assert_refused(response) -> int:
    assert response.status_code == 429, response.content
    message = response.json()["errors"]["__all__"][0]
    assert message.startswith("Too many requests with this token")
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 2
    return retry_after


def client_messages() -> list[str]:
    return list(Message.objects.filter(author_type="client").order_by("id").values_list("text", flat=True))


def test_rest_connector_token_over_its_limit_is_429_and_nothing_is_stored(integrator):
    codes = [integrator.send(f"m{n}", msg_id=str(n)).status_code for n in range(3)]
    assert codes == [201, 201, 201]
    retry_after = assert_refused(integrator.send("m3", msg_id="3"))
    assert client_messages() == ["m0", "m1", "m2"]
    # A wrong token is still a 401 (authentication comes first; only the connector's own token counts).
    assert integrator.post("messages/", {}, token="not-the-token").status_code == 401

    time.sleep(retry_after + 0.2)
    assert integrator.send("m3", msg_id="3").status_code == 201
    assert client_messages() == ["m0", "m1", "m2", "m3"]


def test_personal_token_limit_is_per_token(make_user):
    first, second = (make_user(name, is_staff=True) for name in ("first-integration", "second-integration"))
    for user in (first, second):
        grant(user, lines_view="any")
    first_api, second_api = api_client(first), api_client(second)
    assert [first_api.get("/api/v1/lines/").status_code for _ in range(3)] == [200, 200, 200]
    retry_after = assert_refused(first_api.get("/api/v1/lines/"))
    assert second_api.get("/api/v1/lines/").status_code == 200
    time.sleep(retry_after + 0.2)
    assert first_api.get("/api/v1/lines/").status_code == 200


def test_staff_session_in_the_browser_is_not_limited_by_token_limits(make_user):
    user = make_user("browser-agent", is_staff=True)
    grant(user, lines_view="any")
    browser = Client()
    browser.force_login(user)
    assert {browser.get("/api/v1/lines/").status_code for _ in range(5)} == {200}


def test_bot_secret_over_its_limit_is_429_and_the_message_is_not_written(bot, session):  # noqa: F811
    codes = [call(bot, session, "message", {"text": f"b{n}"}).status_code for n in range(3)]
    assert codes == [201, 201, 201]
    assert_refused(call(bot, session, "message", {"text": "b3"}))
    texts = list(Message.objects.filter(author_type="bot").values_list("text", flat=True))
    assert "b3" not in texts and {"b0", "b1", "b2"} <= set(texts)


def test_limit_zero_turns_it_off(integrator, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 0
    assert {integrator.send(f"m{n}", msg_id=str(n)).status_code for n in range(5)} == {201}
    assert post(Client(), f"{integrator.base}/messages/", {}).status_code == 401


def test_the_published_schema_documents_the_429_of_every_operation(integrator):
    schema = Client().get("/api/v1/schema/").json()
    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert operations
    for operation in operations:
        answer = operation["responses"]["429"]
        assert "Retry-After" in answer["headers"], operation["operationId"]
