"""Size limits at the edges, through the interfaces a visitor's browser uses: the widget's message text
(over its socket), the session request body and file uploads. At the limit it is accepted; one over is a
clear 4xx (or an error frame) naming the problem; nothing is stored and the conversation goes on."""

from __future__ import annotations

import json
import uuid

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as HttpClient

from openlines.services.actions import MAX_MESSAGE_LENGTH
from openlines.services.livechat import MAX_FILE_BYTES
from openlines.session_models import Message
from tests.openlines.test_livechat import chat_line, receive_until, start, widget  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_limits(fresh_cache):
    """Counters of this test only (the session endpoint is limited per address)."""


def client_texts() -> list[str]:
    return list(Message.objects.filter(author_type="client").order_by("id").values_list("text", flat=True))


async def test_widget_message_at_the_limit_is_stored_and_one_over_is_refused(chat_line):  # noqa: F811
    data = await database_sync_to_async(start)("site")
    ws = await widget("site", data["token"])

    too_long = {"type": "message", "client_id": uuid.uuid4().hex, "text": "y" * (MAX_MESSAGE_LENGTH + 1)}
    await ws.send_json_to(too_long)
    error = await receive_until(ws, "error")
    assert error["client_id"] == too_long["client_id"]
    assert error["errors"]["text"] == [f"A message can be at most {MAX_MESSAGE_LENGTH} characters."]
    assert await database_sync_to_async(client_texts)() == []

    at_limit = {"type": "message", "client_id": uuid.uuid4().hex, "text": "x" * MAX_MESSAGE_LENGTH}
    await ws.send_json_to(at_limit)
    ack = await receive_until(ws, "ack")
    assert ack["client_id"] == at_limit["client_id"]
    assert await database_sync_to_async(client_texts)() == ["x" * MAX_MESSAGE_LENGTH]
    await ws.disconnect()


def test_session_request_with_an_oversized_body_is_413_with_a_json_error(chat_line, settings):  # noqa: F811
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"token": "t" * 2000})
    response = HttpClient().post("/livechat/site/session/", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response.json() == {"errors": {"__all__": ["The request is too large."]}}
    small = HttpClient().post("/livechat/site/session/", data="{}", content_type="application/json")
    assert small.status_code == 200


def test_upload_at_the_limit_is_stored_and_one_byte_over_is_refused(chat_line, settings, tmp_path):  # noqa: F811
    settings.MEDIA_ROOT = tmp_path
    token = start("site")["token"]

    def upload(size: int):
        file = SimpleUploadedFile("big.bin", b"\0" * size, content_type="application/octet-stream")
        return HttpClient().post("/livechat/site/upload/", {"token": token, "file": file})

    over = upload(MAX_FILE_BYTES + 1)
    assert over.status_code == 400
    assert over.json() == {"errors": {"file": ["The file is too large (at most 10 MB)."]}}
    assert not list(tmp_path.rglob("big*"))
    at_limit = upload(MAX_FILE_BYTES)
    assert at_limit.status_code == 201
    assert at_limit.json()["size"] == MAX_FILE_BYTES


def test_upload_with_oversized_form_fields_is_413_not_an_error_page(chat_line, settings):  # noqa: F811
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = HttpClient().post("/livechat/site/upload/", {"token": "t" * 2000})
    assert response.status_code == 413
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response.json() == {"errors": {"__all__": ["The request is too large."]}}
