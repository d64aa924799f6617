"""Agents' files reach every channel, through the sessions API: uploaded to the conversation
(`POST /api/v1/sessions/<id>/files/`), sent with a message, and delivered the way each platform takes media,
with the exact platform requests asserted. Limits refuse before sending; a platform's refusal fails the
message with its words; a retry never sends a part twice; nothing unsent is shown as sent."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from contactcenter.connectors import rest
from contactcenter.models import Connector, OutboundDelivery
from contactcenter.services.rest_connector import rest_connector_callback_set, rest_connector_token_rotate
from contactcenter.timers import run_due_timers
from openlines.models import OpenLine
from openlines.services import livechat
from openlines.session_models import Message, Session
from tests.messengers.conftest import (
    ok,
    page_message,
    page_payload,
    post_webhook,
    telegram_update,
    viber_message,
    whatsapp_payload,
    whatsapp_text,
)

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n" + b"x" * 2000
PNG = b"\x89PNG\r\n\x1a\n" + b"p" * 500
TG_OK = {"ok": True, "result": {"message_id": 500, "chat": {"id": 777}}}


@pytest.fixture(autouse=True)
def quiet_line(line, settings, tmp_path):
    """No automatic texts (the only outgoing messages are the agents'); files land in the test's folder;
    the public address platforms fetch from is HTTPS."""
    OpenLine.objects.filter(pk=line.pk).update(welcome_message=False, agreement_message=False)
    line.refresh_from_db()
    settings.MEDIA_ROOT = str(tmp_path)
    settings.CONNECTORS_PUBLIC_URL = "https://cc.example"


def start(client, connector, settle, payload) -> tuple[Session, Client]:
    """The client writes; the offered agent answers through the API. Returns the agent's browser."""
    settle(lambda: post_webhook(client, connector, payload))
    session = Session.objects.get(chat__client__connector=connector)
    agent = Client()
    agent.force_login(session.offers.first().user)
    answer = settle(
        lambda: agent.post(f"/api/v1/sessions/{session.pk}/answer/", "{}", content_type="application/json")
    )
    assert answer.status_code == 200, answer.content
    return session, agent


def upload(agent: Client, session: Session, name: str, content: bytes, mime: str):
    return agent.post(
        f"/api/v1/sessions/{session.pk}/files/",
        {"file": SimpleUploadedFile(name, content, content_type=mime)},
    )


def send(settle, agent: Client, session: Session, text: str = "", files=(), links=()):
    body = {"text": text, "attachments": [{"file": f} for f in files] + list(links)}
    response = settle(
        lambda: agent.post(
            f"/api/v1/sessions/{session.pk}/messages/", json.dumps(body), content_type="application/json"
        )
    )
    assert response.status_code == 201, response.content
    return Message.objects.get(pk=response.json()["id"])


def reload(message: Message) -> Message:
    return Message.objects.get(pk=message.pk)


def form_fields(request: httpx.Request) -> dict[str, bytes]:
    """The parts of a multipart request by field name (file parts as their bytes)."""
    boundary = request.headers["content-type"].split("boundary=", 1)[1].encode()
    fields = {}
    for part in request.content.split(b"--" + boundary):
        head, _sep, body = part.partition(b"\r\n\r\n")
        match = re.search(rb'name="([^"]+)"', head)
        if match:
            fields[match.group(1).decode()] = body.rstrip(b"\r\n")
    return fields


# --- Telegram: multipart sendDocument / sendPhoto, caption up to 1024 -----------------------------------


def test_telegram_file_only_message_is_uploaded_and_marked_sent_only_then(client, channel, platform, settle):
    connector = channel("telegram")
    platform.on("POST", r"/sendDocument$", ok(TG_OK))
    session, agent = start(client, connector, settle, telegram_update(1, {"text": "hi"}))
    stored = upload(agent, session, "offer.pdf", PDF, "application/pdf")
    assert stored.status_code == 201, stored.content
    assert stored.json()["kind"] == "document" and stored.json()["size"] == len(PDF)
    message = send(settle, agent, session, files=[stored.json()["file"]])
    [request] = platform.sent("sendDocument")
    assert "/bot123456:" in str(request.url)
    fields = form_fields(request)
    assert fields["chat_id"] == b"777" and fields["document"] == PDF
    assert b'name="document"; filename="offer.pdf"' in request.content
    assert b"Content-Type: application/pdf" in request.content
    assert "caption" not in fields
    message = reload(message)
    assert message.delivery == "sent" and message.external_id == "777:500"
    assert message.attachments[0]["name"] == "offer.pdf" and "path" in message.attachments[0]


def test_telegram_photo_carries_the_text_as_caption_and_a_long_text_follows_split(
    client, channel, platform, settle
):
    connector = channel("telegram")
    platform.on("POST", r"/sendPhoto$", ok(TG_OK)).on("POST", r"/sendMessage$", ok(TG_OK))
    session, agent = start(client, connector, settle, telegram_update(1, {"text": "hi"}))
    photo = upload(agent, session, "shot.png", PNG, "image/png").json()
    assert photo["kind"] == "photo"
    send(settle, agent, session, text="Here <it> is", files=[photo["file"]])
    [request] = platform.sent("sendPhoto")
    fields = form_fields(request)
    assert fields["photo"] == PNG
    assert fields["caption"] == b"Here &lt;it&gt; is" and fields["parse_mode"] == b"HTML"
    assert not platform.sent("sendMessage")
    # Over 1024 characters the text cannot be a caption: the photo goes bare, the text after it.
    second = upload(agent, session, "shot.png", PNG, "image/png").json()
    long_text = "word " * 300
    message = send(settle, agent, session, text=long_text, files=[second["file"]])
    assert "caption" not in form_fields(platform.sent("sendPhoto")[1])
    [text] = platform.sent("sendMessage")
    assert json.loads(text.content)["text"] == long_text.strip()
    assert reload(message).delivery == "sent"


def test_telegram_refusing_the_file_fails_the_message_with_its_words(client, channel, platform, settle):
    connector = channel("telegram")
    refused = httpx.Response(
        400, json={"ok": False, "error_code": 400, "description": "Bad Request: file must be non-empty"}
    )
    platform.on("POST", r"/sendDocument$", refused)
    session, agent = start(client, connector, settle, telegram_update(1, {"text": "hi"}))
    stored = upload(agent, session, "offer.pdf", PDF, "application/pdf").json()
    message = reload(send(settle, agent, session, files=[stored["file"]]))
    assert message.delivery == "failed"
    assert "Bad Request: file must be non-empty" in message.delivery_error
    # The agent's view of the conversation shows it failed, not sent.
    listed = agent.get(f"/api/v1/sessions/{session.pk}/messages/").json()["results"]
    assert [m["delivery"] for m in listed if m["id"] == message.pk] == ["failed"]


def test_telegram_retry_after_throttling_sends_only_what_did_not_leave(client, channel, platform, settle):
    connector = channel("telegram")
    throttled = httpx.Response(
        429,
        json={
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 5",
            "parameters": {"retry_after": 5},
        },
    )
    platform.on("POST", r"/sendDocument$", ok(TG_OK), throttled, ok(TG_OK))
    session, agent = start(client, connector, settle, telegram_update(1, {"text": "hi"}))
    first = upload(agent, session, "a.pdf", PDF, "application/pdf").json()
    second = upload(agent, session, "b.pdf", PDF + b"2", "application/pdf").json()
    message = send(settle, agent, session, text="Both files", files=[first["file"], second["file"]])
    assert reload(message).delivery == "pending"
    assert len(platform.sent("sendDocument")) == 2
    due = OutboundDelivery.objects.get(message=message).next_attempt_at
    settle(lambda: run_due_timers(due + timedelta(seconds=1)))
    sent = platform.sent("sendDocument")
    assert len(sent) == 3
    names = [re.search(rb'filename="([^"]+)"', r.content).group(1) for r in sent]
    assert names == [b"a.pdf", b"b.pdf", b"b.pdf"]  # a.pdf (with the caption) never again
    assert form_fields(sent[0])["caption"] == b"Both files"
    assert "caption" not in form_fields(sent[2])
    assert not platform.sent("sendMessage")
    assert reload(message).delivery == "sent"


def test_a_link_only_message_reaches_telegram_as_the_file_or_as_text(client, channel, platform, settle):
    """The old defect: a file-only message made no request and showed "sent"."""
    connector = channel("telegram")
    platform.on("POST", r"/sendDocument$", ok(TG_OK)).on("POST", r"/sendMessage$", ok(TG_OK))
    session, agent = start(client, connector, settle, telegram_update(1, {"text": "hi"}))
    message = send(settle, agent, session, links=[{"url": "https://files.example/spec.pdf", "name": "Spec"}])
    [request] = platform.sent("sendDocument")
    assert json.loads(request.content) == {"chat_id": 777, "document": "https://files.example/spec.pdf"}
    assert reload(message).delivery == "sent"
    # A plain-http link is nothing Telegram should fetch: it goes as a link in a text.
    send(settle, agent, session, links=[{"url": "http://files.example/a.bin", "name": "Archive"}])
    [text] = platform.sent("sendMessage")
    assert json.loads(text.content)["text"] == "Archive\nhttp://files.example/a.bin"


# --- WhatsApp: upload to /<phone number id>/media, then send by media id ---------------------------------


def test_whatsapp_uploads_the_file_then_sends_it_by_media_id_with_caption_and_filename(
    client, channel, platform, settle
):
    connector = channel("whatsapp")
    platform.on("POST", r"/1061/media$", ok({"id": "media-77"}))
    platform.on("POST", r"/1061/messages$", ok({"messages": [{"id": "wamid.OUT1"}]}))
    session, agent = start(client, connector, settle, whatsapp_payload(messages=[whatsapp_text("wamid.IN1")]))
    stored = upload(agent, session, "offer.pdf", PDF, "application/pdf").json()
    message = send(settle, agent, session, text="Our offer", files=[stored["file"]])
    [media] = platform.sent("/media$")
    assert media.headers["authorization"] == "Bearer wa-token"
    fields = form_fields(media)
    assert fields["messaging_product"] == b"whatsapp" and fields["type"] == b"application/pdf"
    assert fields["file"] == PDF
    [sent] = platform.sent("/messages$")
    assert json.loads(sent.content) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "4915112345",
        "type": "document",
        "document": {"id": "media-77", "caption": "Our offer", "filename": "offer.pdf"},
    }
    message = reload(message)
    assert message.delivery == "sent" and message.external_id == "wamid.OUT1"


def test_whatsapp_limits_refuse_before_anything_is_sent(client, channel, platform, settle):
    connector = channel("whatsapp")
    session, agent = start(client, connector, settle, whatsapp_payload(messages=[whatsapp_text("wamid.IN1")]))
    archive = upload(agent, session, "logs.zip", b"PK\x03\x04" + b"z" * 100, "application/zip")
    assert archive.status_code == 400
    [error] = archive.json()["errors"]["file"]
    assert "WhatsApp" in error and "application/pdf" in error and "100" in error
    big_image = upload(agent, session, "big.png", PNG + b"p" * (5 * 1024 * 1024), "image/png")
    assert big_image.status_code == 400
    assert "images (image/jpeg, image/png) up to 5" in big_image.json()["errors"]["file"][0]
    assert not platform.requests
    assert not Message.objects.filter(session=session, author_type=Message.Author.AGENT).exists()


# --- Messenger and Instagram: multipart `filedata` in the send API ---------------------------------------


def test_messenger_uploads_the_file_as_filedata_and_sends_the_text_after_it(
    client, channel, platform, settle
):
    connector = channel("messenger")
    platform.on("POST", r"/PAGE1/messages$", ok({"recipient_id": "PSID1", "message_id": "m.out"}))
    session, agent = start(
        client, connector, settle, page_payload("page", "PAGE1", [page_message("PAGE1", "m1")])
    )
    stored = upload(agent, session, "offer.pdf", PDF, "application/pdf").json()
    message = send(settle, agent, session, text="The offer", files=[stored["file"]])
    upload_request, text_request = platform.sent("/messages$")
    assert upload_request.headers["authorization"] == "Bearer page-token"
    fields = form_fields(upload_request)
    assert json.loads(fields["recipient"]) == {"id": "PSID1"}
    assert fields["messaging_type"] == b"RESPONSE"
    assert json.loads(fields["message"]) == {
        "attachment": {"type": "file", "payload": {"is_reusable": False}}
    }
    assert fields["filedata"] == PDF
    assert b'name="filedata"; filename="offer.pdf"' in upload_request.content
    assert json.loads(text_request.content)["message"] == {"text": "The offer"}
    assert reload(message).delivery == "sent"


def test_instagram_uploads_images_and_refuses_documents_naming_the_limit(client, channel, platform, settle):
    connector = channel("instagram")
    platform.on("POST", r"/me/messages$", ok({"recipient_id": "IGSID1", "message_id": "ig.out"}))
    payload = page_payload("instagram", "IG1", [page_message("IG1", "ig1", sender="IGSID1")])
    session, agent = start(client, connector, settle, payload)
    document = upload(agent, session, "offer.pdf", PDF, "application/pdf")
    assert document.status_code == 400
    assert "Instagram" in document.json()["errors"]["file"][0]
    assert "images (image/jpeg, image/png) up to 8" in document.json()["errors"]["file"][0]
    photo = upload(agent, session, "shot.png", PNG, "image/png").json()
    message = send(settle, agent, session, files=[photo["file"]])
    [request] = platform.sent("/messages$")
    assert str(request.url).startswith("https://graph.instagram.com/")
    fields = form_fields(request)
    assert json.loads(fields["recipient"]) == {"id": "IGSID1"}
    assert json.loads(fields["message"]) == {"attachment": {"type": "image", "payload": {}}}
    assert fields["filedata"] == PNG
    assert reload(message).delivery == "sent"


# --- Viber: a signed, expiring link of ours -------------------------------------------------------------


def test_viber_gets_a_signed_expiring_link_with_name_and_size(client, channel, platform, settle):
    connector = channel("viber")
    platform.on(
        "POST",
        r"/pa/send_message$",
        ok({"status": 0, "status_message": "ok", "message_token": 9007199254740993}),
    )
    session, agent = start(client, connector, settle, viber_message(5, "hi"))
    stored = upload(agent, session, "offer.pdf", PDF, "application/pdf").json()
    message = send(settle, agent, session, text="See the file", files=[stored["file"]])
    file_request, text_request = platform.sent("send_message")
    body = json.loads(file_request.content)
    assert body["type"] == "file" and body["receiver"] == "vb-user=="
    assert body["file_name"] == "offer.pdf" and body["size"] == len(PDF)
    assert body["media"].startswith("https://cc.example/contact-center/files/")
    assert json.loads(text_request.content)["text"] == "See the file"  # Viber files take no caption
    assert reload(message).delivery == "sent"
    # The link works without a login, as Viber fetches it; a forged one does not.
    path = body["media"].removeprefix("https://cc.example")
    fetched = Client().get(path)
    assert fetched.status_code == 200 and b"".join(fetched.streaming_content) == PDF
    assert fetched["X-Content-Type-Options"] == "nosniff"
    token = path.split("/")[3]
    assert Client().get(path.replace(token, token[:-2] + "xx")).status_code == 404


def test_viber_link_expires(client, channel, platform, settle, monkeypatch):
    connector = channel("viber")
    platform.on("POST", r"/pa/send_message$", ok({"status": 0, "message_token": 1}))
    session, agent = start(client, connector, settle, viber_message(5, "hi"))
    photo = upload(agent, session, "shot.png", PNG, "image/png").json()
    send(settle, agent, session, text="Look", files=[photo["file"]])
    [request] = platform.sent("send_message")
    body = json.loads(request.content)
    assert body["type"] == "picture" and body["text"] == "Look"  # the picture's description
    path = body["media"].removeprefix("https://cc.example")
    later = timezone.now().timestamp() + 8 * 24 * 3600
    monkeypatch.setattr("time.time", lambda: later)
    assert Client().get(path).status_code == 404


# --- REST connector: the callback carries each file as a signed link -----------------------------------


def test_rest_callback_carries_each_file_with_a_signed_link_name_mime_and_size(line, settle, monkeypatch):
    callbacks: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        callbacks.append(request)
        return httpx.Response(200)

    monkeypatch.setattr(
        rest, "http_client_factory", lambda: httpx.Client(transport=httpx.MockTransport(handle))
    )
    connector = Connector.objects.create(kind="rest", line=line, name="REST")
    credentials = rest_connector_token_rotate(connector=connector)
    rest_connector_callback_set(connector=connector, callback_url="https://integrator.example/cb")
    inbound = {
        "user": {"id": "u-1", "name": "Carla"},
        "chat": {"id": "c-1"},
        "message": {"id": "m-1", "date": 1773265993, "text": "Hi"},
    }
    settle(
        lambda: Client().post(
            f"/api/v1/connectors/{connector.uuid}/messages/",
            json.dumps(inbound),
            content_type="application/json",
            headers={"authorization": f"Bearer {credentials.token}"},
        )
    )
    session = Session.objects.get(chat__client__connector=connector)
    agent = Client()
    agent.force_login(session.offers.first().user)
    settle(
        lambda: agent.post(f"/api/v1/sessions/{session.pk}/answer/", "{}", content_type="application/json")
    )
    stored = upload(agent, session, "offer.pdf", PDF, "application/pdf").json()
    message = send(settle, agent, session, text="File", files=[stored["file"]])
    [attachment] = json.loads(callbacks[-1].content)["message"]["attachments"]
    assert attachment["kind"] == "document" and attachment["name"] == "offer.pdf"
    assert attachment["mime"] == "application/pdf" and attachment["size"] == len(PDF)
    assert attachment["url"].startswith("https://cc.example/contact-center/files/")
    assert "path" not in attachment
    fetched = Client().get(attachment["url"].removeprefix("https://cc.example"))
    assert b"".join(fetched.streaming_content) == PDF
    assert reload(message).delivery == "sent"


# --- Live chat: the widget shows the agent's file ---------------------------------------------------------


def test_livechat_visitor_sees_the_agents_image(line, settle, fresh_cache):
    token, visitor = livechat.visitor_token_create(line=line)
    settle(
        lambda: livechat.livechat_message_receive(
            line=line, visitor=visitor, client_message_id="msg-00001", text="Hello"
        )
    )
    session = Session.objects.get(chat__client__connector__kind="livechat")
    agent = Client()
    agent.force_login(session.offers.first().user)
    settle(
        lambda: agent.post(f"/api/v1/sessions/{session.pk}/answer/", "{}", content_type="application/json")
    )
    limits = agent.get(f"/agent/api/sessions/{session.pk}/").json()["files"]
    assert limits["max_bytes"] == 10 * 1024 * 1024 and "image/png" in limits["kinds"]["photo"]["types"]
    photo = upload(agent, session, "shot.png", PNG, "image/png").json()
    send(settle, agent, session, text="Like this", files=[photo["file"]])
    state = Client().post(
        f"/livechat/{line.code}/session/", json.dumps({"token": token}), content_type="application/json"
    )
    [shown] = [m for m in state.json()["state"]["history"] if m["author_type"] == "agent"]
    [attachment] = shown["attachments"]
    assert attachment["image"] is True and attachment["name"] == "shot.png"
    fetched = Client().get(attachment["url"])
    assert fetched.status_code == 200 and b"".join(fetched.streaming_content) == PNG


# --- Who may upload ---------------------------------------------------------------------------------------


def test_upload_needs_the_csrf_token_and_being_able_to_write_there(client, channel, platform, settle, agents):
    connector = channel("telegram")
    session, agent = start(client, connector, settle, telegram_update(1, {"text": "hi"}))
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(session.operator)
    url = f"/api/v1/sessions/{session.pk}/files/"
    file = SimpleUploadedFile("a.pdf", PDF, content_type="application/pdf")
    assert browser.post(url, {"file": file}).status_code == 403
    browser.get("/agent/")  # sets the CSRF cookie, as the workspace page does
    file.seek(0)
    accepted = browser.post(url, {"file": file}, headers={"x-csrftoken": browser.cookies["csrftoken"].value})
    assert accepted.status_code == 201, accepted.content
    colleague = next(a for a in agents if a.pk != session.operator_id)
    other = Client()
    other.force_login(colleague)
    file.seek(0)
    assert other.post(url, {"file": file}).status_code in (403, 404)
    # A token of this conversation does not attach in another one.
    token = accepted.json()["file"]
    reply = agent.post(
        f"/api/v1/sessions/{session.pk + 1000}/messages/",
        json.dumps({"attachments": [{"file": token}]}),
        content_type="application/json",
    )
    assert reply.status_code == 404
    forged = agent.post(
        f"/api/v1/sessions/{session.pk}/messages/",
        json.dumps({"attachments": [{"file": token[:-3] + "abc"}]}),
        content_type="application/json",
    )
    assert forged.status_code == 400 and "attachments[0].file" in forged.json()["errors"]
