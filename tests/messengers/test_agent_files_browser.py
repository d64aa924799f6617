"""An agent sends files from the workspace in a real browser: the attach button, a pasted image and a
dropped file are uploaded with progress, shown in the conversation (images as thumbnails, other files with
name and size), and reach the messenger's API; a file beyond the channel's limits is refused before any
upload, with the limits named."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client

from openlines.models import OpenLine
from openlines.services import actions
from openlines.session_models import Session
from tests.messengers.conftest import (
    ok,
    post_webhook,
    telegram_update,
    whatsapp_payload,
    whatsapp_text,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TG_OK = {"ok": True, "result": {"message_id": 500, "chat": {"id": 777}}}
PDF = b"%PDF-1.4\n" + b"x" * 3000
# A 1x1 PNG, so the thumbnail really renders.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


@pytest.fixture(autouse=True)
def quiet(line, settings, tmp_path):
    OpenLine.objects.filter(pk=line.pk).update(welcome_message=False, agreement_message=False)
    settings.MEDIA_ROOT = str(tmp_path)
    settings.CONNECTORS_PUBLIC_URL = "https://cc.example"


def answered(connector, settle, payload) -> Session:
    settle(lambda: post_webhook(Client(), connector, payload))
    session = Session.objects.get(chat__client__connector=connector)
    settle(lambda: actions.session_answer(user=session.offers.first().user, session_id=session.pk))
    return Session.objects.get(pk=session.pk)


@pytest.fixture
def workspace(browser, live_server):
    """The agent's workspace on a conversation; closed before the server stops (no late requests)."""
    opened = []

    def open_page(session: Session):
        page = browser.new_page()
        opened.append(page)
        return _logged_in(page, live_server, session)

    yield open_page
    for page in opened:
        page.close()


def _logged_in(page, live_server, session: Session):
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/admin/login/?next=/agent/")
    page.fill("#id_username", session.operator.username)
    page.fill("#id_password", "pw-123456")
    page.click("input[type=submit]")
    page.wait_for_url("**/agent/")
    page.goto(f"{live_server.url}/agent/#session={session.pk}")
    page.wait_for_selector("#composer-attach:not([hidden])")
    return page


def paste_or_drop(page, how: str, name: str, mime: str, content: bytes) -> None:
    page.evaluate(
        """([how, name, mime, bytes]) => {
            const data = new DataTransfer();
            data.items.add(new File([new Uint8Array(bytes)], name, { type: mime }));
            const init = { bubbles: true, cancelable: true };
            if (how === "paste") {
                const event = new ClipboardEvent("paste", { ...init, clipboardData: data });
                document.getElementById("composer-input").dispatchEvent(event);
            } else {
                const target = document.getElementById("messages");
                target.dispatchEvent(new DragEvent("dragover", { ...init, dataTransfer: data }));
                target.dispatchEvent(new DragEvent("drop", { ...init, dataTransfer: data }));
            }
        }""",
        [how, name, mime, list(content)],
    )


def test_agent_attaches_pastes_and_drops_files_that_reach_telegram(
    workspace, channel, platform, settle, tasks
):
    connector = channel("telegram")
    platform.on("POST", r"/sendDocument$", ok(TG_OK)).on("POST", r"/sendPhoto$", ok(TG_OK))
    session = answered(connector, settle, telegram_update(1, {"text": "Send me the offer"}))
    page = workspace(session)
    title = page.get_attribute("#composer-attach", "title")
    assert "50" in title and "MB" in title and "image/jpeg" in title  # the channel's limits, before sending

    # The attach button: uploaded with progress, then sent with the text as its caption.
    page.set_input_files(
        "#composer-file", files=[{"name": "offer.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.wait_for_selector(".composer-file:has-text('offer.pdf')")
    page.wait_for_selector("#composer-send:not([disabled])")
    page.fill("#composer-input", "Here is the offer")
    page.click("#composer-send")
    page.wait_for_selector(".msg-agent .attachment:has-text('offer.pdf')")
    assert re.search(r"\d+(\.\d)? KB", page.inner_text(".msg-agent .attachment"))
    assert page.locator(".composer-file").count() == 0
    settle(tasks.run)
    [document] = platform.sent("sendDocument")
    assert PDF in document.content and b'filename="offer.pdf"' in document.content
    assert b"Here is the offer" in document.content

    # A pasted image and a dropped file go together in one message; the image shows as a thumbnail.
    paste_or_drop(page, "paste", "pasted.png", "image/png", PNG)
    paste_or_drop(page, "drop", "notes.pdf", "application/pdf", PDF + b"2")
    page.wait_for_selector(".composer-file:has-text('pasted.png') img")
    page.wait_for_selector(".composer-file:has-text('notes.pdf')")
    page.wait_for_selector("#composer-send:not([disabled])")
    page.click("#composer-send")
    page.wait_for_selector(".msg-agent .attachment-thumb img[alt='pasted.png']")
    # Polled from here: the page's Content-Security-Policy forbids wait_for_function's string evaluation.
    thumb = page.locator(".msg-agent .attachment-thumb img[alt='pasted.png']")
    deadline = time.monotonic() + 15
    while thumb.evaluate("img => img.naturalWidth") == 0 and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert thumb.evaluate("img => img.naturalWidth") > 0
    page.wait_for_selector(".msg-agent .attachment:has-text('notes.pdf')")
    settle(tasks.run)
    [photo] = platform.sent("sendPhoto")
    assert PNG in photo.content
    assert len(platform.sent("sendDocument")) == 2
    assert PDF + b"2" in platform.sent("sendDocument")[1].content


def test_a_file_beyond_the_channels_limits_is_refused_before_uploading(
    workspace, channel, platform, settle, tasks
):
    connector = channel("whatsapp")
    session = answered(connector, settle, whatsapp_payload(messages=[whatsapp_text("wamid.IN1")]))
    page = workspace(session)
    uploads = []
    page.on("request", lambda request: uploads.append(request.url) if "/files/" in request.url else None)
    page.set_input_files(
        "#composer-file", files=[{"name": "logs.zip", "mimeType": "application/zip", "buffer": b"PK\x03\x04"}]
    )
    error = page.wait_for_selector("#chat-error:has-text('logs.zip')").inner_text()
    assert "application/pdf" in error and "100" in error
    assert page.locator(".composer-file").count() == 0
    assert not uploads and not platform.requests
