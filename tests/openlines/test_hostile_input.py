"""Control characters and malformed frames at the input doors: the widget socket, the REST connector,
a messenger webhook, the agent API; exports of text stored with control characters."""

from __future__ import annotations

import io
import json
import logging
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client as HttpClient
from openpyxl import load_workbook

from contactcenter.asgi import application
from openlines.consumers import CLOSE_BAD_TOKEN, CLOSE_NO_LINE
from openlines.session_models import Client, Message, Session
from tests.kpi.factories import make_session

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_rate_limits(fresh_cache):
    yield


@pytest.fixture
def chat_line(make_line, agents):
    return make_line(queue=agents[:1], line_name="Website chat", code="site")


def start(code: str = "site", token: str | None = None) -> dict:
    response = HttpClient().post(
        f"/livechat/{code}/session/", data=json.dumps({"token": token}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()


async def widget(token: str, code: str = "site") -> WebsocketCommunicator:
    ws = WebsocketCommunicator(application, f"/ws/livechat/{code}/?token={token}")
    connected, _ = await ws.connect()
    assert connected
    assert (await ws.receive_json_from())["type"] == "hello"
    return ws


async def still_open(ws: WebsocketCommunicator) -> None:
    await ws.send_json_to({"type": "ping"})
    assert await ws.receive_json_from(timeout=5) == {"type": "pong"}


async def test_a_nul_in_a_widget_message_is_refused_for_good_and_the_socket_stays(chat_line):
    ws = await widget((await database_sync_to_async(start)())["token"])
    client_id = uuid.uuid4().hex
    await ws.send_json_to({"type": "message", "client_id": client_id, "text": "a\x00b"})
    error = await ws.receive_json_from(timeout=5)
    assert error["type"] == "error" and error["code"] == "invalid" and error["client_id"] == client_id
    assert "NUL" in error["errors"]["text"][0]
    await still_open(ws)
    assert await database_sync_to_async(Message.objects.filter(author_type="client").count)() == 0
    await ws.disconnect()


async def test_other_control_characters_are_dropped_from_widget_text_and_the_contact_form(chat_line):
    ws = await widget((await database_sync_to_async(start)())["token"])
    await ws.send_json_to({"type": "message", "client_id": uuid.uuid4().hex, "text": "he\x1b[31mllo\x07\tok"})
    for _ in range(20):
        if (await ws.receive_json_from(timeout=5))["type"] == "ack":
            break
    await ws.send_json_to({"type": "form", "name": "Eve\x1b", "email": "", "phone": ""})
    for _ in range(20):
        if (await ws.receive_json_from(timeout=5))["type"] == "form.ok":
            break
    text = await database_sync_to_async(lambda: Message.objects.get(author_type="client").text)()
    assert text == "he[31mllo\tok"
    assert await database_sync_to_async(lambda: Client.objects.get().name)() == "Eve"
    await ws.disconnect()


HOSTILE_FRAMES = [
    ("binary", {"bytes_data": b"\x00\xff"}),
    ("invalid JSON", {"text_data": '{"type": "message", '}),
    ("deeply nested", {"text_data": "[" * 100_000 + "]" * 100_000}),
    ("nested object", {"text_data": json.dumps({"type": "message", "text": {"a": [[[[[[[[[1]]]]]]]]]}})}),
    ("lone surrogate", {"text_data": '{"type": "message", "client_id": "abcdefgh1", "text": "\\udc00"}'}),
    ("not an object", {"text_data": '"message"'}),
    (
        "wrong types",
        {"text_data": json.dumps({"type": "message", "client_id": 5, "text": ["x"], "since": "a"})},
    ),
    (
        "wrong attachments",
        {"text_data": json.dumps({"type": "message", "client_id": "abcdefgh2", "attachments": 7})},
    ),
    ("wrong vote", {"text_data": json.dumps({"type": "rate", "vote": {"x": 1}})}),
    ("wrong resync", {"text_data": json.dumps({"type": "resync", "since": [1], "have": "all"})}),
]


@pytest.mark.parametrize(("name", "frame"), HOSTILE_FRAMES, ids=[name for name, _ in HOSTILE_FRAMES])
async def test_a_malformed_widget_frame_gets_an_error_frame_and_one_log_line(chat_line, caplog, name, frame):
    ws = await widget((await database_sync_to_async(start)())["token"])
    caplog.clear()
    with caplog.at_level(logging.INFO):
        await ws.send_to(**frame)
        answer = await ws.receive_json_from(timeout=5)
        assert answer["type"] == "error" and answer["errors"]
        await still_open(ws)
    ours = [r for r in caplog.records if r.name.startswith(("contactcenter", "openlines", "django"))]
    assert len(ours) <= 1 and not any(r.exc_info for r in ours), [r.getMessage() for r in ours]
    assert await database_sync_to_async(Message.objects.filter(author_type="client").count)() == 0
    await ws.disconnect()


async def test_a_bad_token_is_accepted_then_closed_with_4403_and_an_unknown_line_with_4404(chat_line):
    for path, code in (
        ("/ws/livechat/site/?token=forged", CLOSE_BAD_TOKEN),
        ("/ws/livechat/nope/?token=x", 4404),
    ):
        ws = WebsocketCommunicator(application, path)
        connected, _ = await ws.connect()
        assert connected  # so the widget reads the code, not 1006
        assert await ws.receive_output() == {"type": "websocket.close", "code": code}
    assert CLOSE_NO_LINE == 4404


def test_the_rest_connector_refuses_a_nul_with_a_field_error_and_drops_other_controls(chat_line, admin_user):
    from contactcenter.connectors import rest
    from contactcenter.models import Connector
    from contactcenter.services.rest_connector import rest_connector_token_rotate
    from tests.api.conftest import post

    connector = Connector.objects.create(kind="rest", line=chat_line, name="REST")
    token = rest_connector_token_rotate(connector=connector).token
    url = f"/api/v1/connectors/{connector.uuid}/messages/"

    def send(text: str, name: str = "Carla", msg_id: str = "1"):
        body = {
            "user": {"id": "u-1", "name": name},
            "chat": {"id": "c-1"},
            "message": {"id": msg_id, "date": 1773265993, "text": text},
        }
        return post(HttpClient(), url, body, authorization=f"Bearer {token}")

    refused = send("bad\x00text")
    assert refused.status_code == 400
    assert "Null characters" in refused.json()["errors"]["message"][0]
    assert send("fine\x1b text", name="Car\x1bla", msg_id="2").status_code == 201
    message = Message.objects.get(author_type="client")
    assert message.text == "fine text" and message.session.chat.client.name.startswith("Carla")
    assert rest.MAX_ID_LENGTH  # the module's limits still apply


def test_the_agent_api_refuses_a_nul_with_a_clear_error(agents, write):
    result = write("Hello")
    http = HttpClient()
    http.force_login(agents[0])
    session = Session.objects.get(pk=result.session.pk)
    post = lambda url, body: http.post(url, data=json.dumps(body), content_type="application/json")  # noqa: E731
    post(f"/agent/api/sessions/{session.pk}/answer/", {})
    response = post(f"/agent/api/sessions/{session.pk}/messages/", {"text": "x\x00y"})
    assert response.status_code == 400, response.content
    assert Message.objects.filter(author_type="agent", text__contains="x").count() == 0


def test_exports_never_fail_on_control_characters_stored_earlier(client, admin_user):
    from openlines.models import OpenLine

    line = OpenLine.objects.create(line_name="Sales")
    make_session(line, client_name="Mallory\x1b[2J\x07")  # as an older version stored it
    client.force_login(admin_user)
    response = client.get("/chats/export/?format=xlsx")
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
    assert any("Mallory[2J" in str(cell) for row in rows for cell in row)
    text = b"".join(client.get("/chats/export/?format=csv").streaming_content).decode("utf-8-sig")
    assert "Mallory[2J" in text and "\x1b" not in text


def test_an_uploaded_file_name_loses_its_control_characters(chat_line, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    token = start()["token"]
    upload = SimpleUploadedFile("re\x1bport\x07.txt", b"hello", content_type="text/plain")
    response = HttpClient().post("/livechat/site/upload/", {"token": token, "file": upload})
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "report.txt"


async def test_a_failure_while_handling_a_frame_is_answered_as_a_server_error_and_the_socket_stays(
    chat_line, monkeypatch, caplog
):
    from django.db import OperationalError

    from openlines.services import livechat

    def database_gone(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    ws = await widget((await database_sync_to_async(start)())["token"])
    monkeypatch.setattr(livechat, "livechat_message_receive", database_gone)  # a fault, as in an outage
    caplog.clear()
    client_id = uuid.uuid4().hex
    with caplog.at_level(logging.INFO):
        await ws.send_json_to({"type": "message", "client_id": client_id, "text": "Hello"})
        answer = await ws.receive_json_from(timeout=5)
    # Not final: the widget resends it a few times before it marks it failed.
    assert (answer["type"], answer["code"], answer["client_id"]) == ("error", "server_error", client_id)
    await still_open(ws)
    ours = [r for r in caplog.records if r.name.startswith(("contactcenter", "openlines"))]
    assert len(ours) == 1 and not ours[0].exc_info
    await ws.disconnect()
