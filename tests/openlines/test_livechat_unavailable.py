"""A live chat whose line is off, or that is disconnected or switched off, takes no visitors: the widget's
HTTP and socket doors refuse with a notice in the line's language, store nothing, and never re-create the
connector."""

from __future__ import annotations

import json
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as HttpClient

from contactcenter.asgi import application
from contactcenter.models import Connector
from contactcenter.services.connectors import connector_disconnect
from openlines.models import OpenLine
from openlines.session_models import Chat, Client, Message, Session
from tests.openlines.test_livechat import start, widget

pytestmark = pytest.mark.django_db(transaction=True)

NOTICE_EN = "This chat is not available at the moment. Please contact us another way."


@pytest.fixture(autouse=True)
def fresh_rate_limits(fresh_cache):
    yield


@pytest.fixture
def chat_line(make_line, agents):
    return make_line(queue=agents[:1], line_name="Website chat", code="site")


def stored() -> dict[str, int]:
    return {
        "connectors": Connector.objects.count(),
        "clients": Client.objects.count(),
        "chats": Chat.objects.count(),
        "sessions": Session.objects.count(),
        "messages": Message.objects.count(),
    }


def session_request(code: str, token: str | None = None):
    return HttpClient().post(
        f"/livechat/{code}/session/", data=json.dumps({"token": token}), content_type="application/json"
    )


def disconnect(line: OpenLine) -> None:
    connector_disconnect(connector=Connector.objects.get(line=line, kind="livechat"))


def switch_off_connector(line: OpenLine) -> None:
    Connector.objects.filter(line=line, kind="livechat").update(active=False)


def switch_off_line(line: OpenLine) -> None:
    OpenLine.objects.filter(pk=line.pk).update(active=False)


CLOSINGS = {"disconnected": disconnect, "connector off": switch_off_connector, "line off": switch_off_line}


@pytest.mark.parametrize("closing", sorted(CLOSINGS))
def test_the_session_door_refuses_with_the_notice_and_stores_nothing(chat_line, closing):
    token = start("site")["token"]
    CLOSINGS[closing](chat_line)
    before = stored()

    for sent in (token, None):
        response = session_request("site", sent)
        assert response.status_code == 403
        assert response["Access-Control-Allow-Origin"] == "*"
        body = response.json()
        assert body["code"] == "unavailable"
        assert body["message"] == NOTICE_EN and body["errors"]["__all__"] == [NOTICE_EN]
        assert body["title"] == "Website chat"
        assert "token" not in body

    assert stored() == before


def test_a_disconnected_live_chat_is_not_created_again_by_the_next_visitor(chat_line):
    start("site")
    disconnect(chat_line)
    assert session_request("site").status_code == 403
    assert Connector.objects.filter(line=chat_line, kind="livechat").count() == 1
    assert Connector.objects.get(line=chat_line, kind="livechat").is_disconnected


def test_a_line_that_is_off_gets_no_live_chat_connector_at_all(make_line):
    make_line(code="off", line_name="Off", active=False)
    assert session_request("off").status_code == 403
    assert not Connector.objects.exists()


def test_the_notice_is_in_the_lines_language(chat_line):
    OpenLine.objects.filter(pk=chat_line.pk).update(language_id="cs", active=False)
    body = session_request("site").json()
    assert body["message"] == "Tento chat teď není k dispozici. Kontaktujte nás prosím jinak."
    assert body["language"] == "cs"


def test_the_upload_door_refuses_and_stores_no_file(chat_line, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    token = start("site")["token"]
    disconnect(chat_line)
    response = HttpClient().post(
        "/livechat/site/upload/",
        {"token": token, "file": SimpleUploadedFile("a.txt", b"hello", content_type="text/plain")},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "unavailable"
    assert not any(tmp_path.rglob("a*.txt"))


@pytest.mark.parametrize("closing", sorted(CLOSINGS))
async def test_the_socket_refuses_with_the_notice_and_closes(chat_line, closing):
    token = (await database_sync_to_async(start)("site"))["token"]
    await database_sync_to_async(CLOSINGS[closing])(chat_line)
    before = await database_sync_to_async(stored)()

    ws = WebsocketCommunicator(application, f"/ws/livechat/site/?token={token}")
    connected, _ = await ws.connect()
    assert connected
    assert await ws.receive_json_from() == {"type": "unavailable", "message": NOTICE_EN}
    closed = await ws.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4410}
    assert await database_sync_to_async(stored)() == before


async def test_an_open_socket_is_refused_once_the_live_chat_is_disconnected(chat_line):
    token = (await database_sync_to_async(start)("site"))["token"]
    ws = await widget("site", token)
    await database_sync_to_async(disconnect)(chat_line)
    before = await database_sync_to_async(stored)()

    await ws.send_json_to({"type": "message", "client_id": uuid.uuid4().hex, "text": "Anyone there?"})
    assert await ws.receive_json_from(timeout=3) == {"type": "unavailable", "message": NOTICE_EN}
    assert (await ws.receive_output(timeout=3))["code"] == 4410
    assert await database_sync_to_async(stored)() == before


async def test_consent_and_contact_form_are_refused_too(chat_line):
    token = (await database_sync_to_async(start)("site"))["token"]
    ws = await widget("site", token)
    await database_sync_to_async(switch_off_line)(chat_line)
    await ws.send_json_to({"type": "form", "name": "Eve", "email": "eve@example.com"})
    assert (await ws.receive_json_from(timeout=3))["type"] == "unavailable"
    assert not await database_sync_to_async(Client.objects.exists)()


def test_reconnecting_the_live_chat_lets_visitors_in_again_with_their_history(chat_line, client, admin_user):
    data = start("site")
    connector = Connector.objects.get(line=chat_line, kind="livechat")
    visitor = Client.objects.create(connector=connector, external_id="v1")
    disconnect(chat_line)
    client.force_login(admin_user)

    response = client.post(f"/contact-center/connectors/{connector.pk}/reconnect/")

    assert response.status_code == 302
    assert session_request("site", data["token"]).status_code == 200
    assert Client.objects.filter(pk=visitor.pk, connector=connector).exists()
    assert Connector.objects.get(pk=connector.pk).disconnected_at is None
