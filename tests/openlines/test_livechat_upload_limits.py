"""Anonymous uploads through the widget's upload door cannot fill the disk: a storage quota per line, a byte
limit per client address, images refused by their pixel count before decoding (decompression bombs), files
never attached to a message deleted after a while, attachments of closed conversations deleted after the
retention time when one is set, and every refusal (a too-long file name too) is JSON with CORS headers."""

from __future__ import annotations

import io
import struct
import uuid
import zlib
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as HttpClient
from django.utils import timezone
from PIL import Image

from contactcenter.timers import run_due_timers
from openlines.session_models import LivechatUpload, Message, Session, SessionStatus
from tests.openlines.test_livechat import chat_line, receive_until, start, widget  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path, fresh_cache, monkeypatch):
    monkeypatch.setattr("openlines.timers._last_upload_cleanup", None)  # the once-a-minute throttle
    settings.MEDIA_ROOT = tmp_path
    settings.PROXY_ADDRESS_HEADER = "X-Real-IP"
    return tmp_path


class Clock:
    def __init__(self, monkeypatch):
        self.moment = timezone.now()
        monkeypatch.setattr(timezone, "now", lambda: self.moment)

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


def upload(token: str, name: str = "note.txt", content: bytes = b"x" * 1000, address: str = "203.0.113.5"):
    file = SimpleUploadedFile(name, content, content_type="application/octet-stream")
    return HttpClient().post("/livechat/site/upload/", {"token": token, "file": file}, HTTP_X_REAL_IP=address)


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response["Content-Type"] == "application/json"
    return response.json()["errors"]


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format="PNG")
    return buffer.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A PNG header claiming a huge image, with a tiny body (nothing to decode is ever read)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(
        b"IEND", b""
    )


def test_long_file_names_are_stored_under_a_name_the_file_system_takes(chat_line):  # noqa: F811
    """100 characters of three bytes each were more than a file system takes in one name: the upload
    answered 500 with an HTML page and no CORS headers, which the widget could not read."""
    token = start("site")["token"]
    for name in ("文" * 96 + ".pdf", "a" * 300 + ".txt", "ü" * 250):
        stored = upload(token, name=name)
        assert stored.status_code == 201, stored.content
        assert stored["Access-Control-Allow-Origin"] == "*"
        assert stored.json()["name"] == name[-100:]
        download = HttpClient().get(stored.json()["url"])
        assert download.status_code == 200 and len(download["Content-Disposition"].encode()) < 400


def test_a_file_the_storage_refuses_is_a_json_error_with_cors(chat_line, monkeypatch):  # noqa: F811
    from django.core.files.storage import default_storage

    def refuse(*args, **kwargs):
        raise OSError(36, "File name too long")

    monkeypatch.setattr(default_storage, "save", refuse)
    errors = assert_json_error(upload(start("site")["token"]), 500)
    assert "could not be stored" in errors["__all__"][0]
    assert not LivechatUpload.objects.exists()


def test_bytes_per_address_are_limited_within_the_window(chat_line, settings, clock):  # noqa: F811
    settings.LIVECHAT_UPLOAD_BYTES_PER_ADDRESS = 2500
    settings.LIVECHAT_UPLOAD_ADDRESS_WINDOW_SECONDS = 3600
    first, second = start("site")["token"], start("site")["token"]  # new visitors do not reset it
    assert upload(first).status_code == 201
    assert upload(second).status_code == 201
    errors = assert_json_error(upload(first), 429)
    assert "Too many files" in errors["__all__"][0]
    assert upload(first, address="198.51.100.9").status_code == 201
    clock.advance(3601)
    assert upload(second).status_code == 201


def test_a_line_has_a_storage_quota_freed_by_the_cleanup_of_unattached_files(
    chat_line, settings, clock, _media  # noqa: F811
):
    settings.LIVECHAT_UPLOAD_QUOTA_BYTES_PER_LINE = 3000
    settings.LIVECHAT_UPLOAD_UNATTACHED_SECONDS = 3600
    token = start("site")["token"]
    for n in range(3):
        assert upload(token, address=f"203.0.113.{n}").status_code == 201
    errors = assert_json_error(upload(token, address="203.0.113.50"), 507)
    assert "cannot take more files" in errors["__all__"][0]
    assert len([p for p in _media.rglob("*") if p.is_file()]) == 3

    clock.advance(3601)
    run_due_timers(clock.moment)
    assert not [p for p in _media.rglob("*") if p.is_file()]
    assert not LivechatUpload.objects.exists()
    assert upload(token, address="203.0.113.50").status_code == 201


def test_images_with_too_many_pixels_are_refused_before_decoding(chat_line, settings):  # noqa: F811
    settings.LIVECHAT_UPLOAD_MAX_IMAGE_PIXELS = 100 * 100
    token = start("site")["token"]
    assert upload(token, name="ok.png", content=png(100, 100)).status_code == 201
    errors = assert_json_error(upload(token, name="big.png", content=png(101, 100)), 400)
    assert "too many pixels" in errors["file"][0]
    # 60000 x 60000 claimed by a 100-byte file: Pillow's own bomb check answers from the header.
    bomb = png_bomb(60000, 60000)
    assert len(bomb) < 200
    errors = assert_json_error(upload(token, name="bomb.png", content=bomb), 400)
    assert "too many pixels" in errors["file"][0]
    # Disguised as something else, still an image to Pillow.
    assert assert_json_error(upload(token, name="bomb.bin", content=bomb), 400)
    assert LivechatUpload.objects.count() == 1


async def test_attached_files_stay_unattached_ones_go_and_retention_applies_after_close(
    chat_line, settings, _media  # noqa: F811
):
    settings.LIVECHAT_UPLOAD_UNATTACHED_SECONDS = 3600
    settings.LIVECHAT_ATTACHMENT_RETENTION_DAYS = 30
    data = await database_sync_to_async(start)("site")
    kept = (await database_sync_to_async(upload)(data["token"], name="kept.txt")).json()
    dropped = (await database_sync_to_async(upload)(data["token"], name="dropped.txt")).json()
    ws = await widget("site", data["token"])
    await ws.send_json_to(
        {"type": "message", "client_id": uuid.uuid4().hex, "text": "See file", "attachments": [kept]}
    )
    await receive_until(ws, "ack")
    await ws.disconnect()

    def files() -> set[str]:
        return {p.name for p in _media.rglob("*") if p.is_file()}

    later = timezone.now() + timedelta(seconds=3601)
    await database_sync_to_async(run_due_timers)(later)
    assert await database_sync_to_async(files)() == {"kept.txt"}
    get = database_sync_to_async(lambda url: HttpClient().get(url).status_code)
    assert await get(kept["url"]) == 200 and await get(dropped["url"]) == 404

    def close_conversation() -> None:
        message = Message.objects.get(text="See file")
        Session.objects.filter(pk=message.session_id).update(status=SessionStatus.CLOSE, date_close=later)

    await database_sync_to_async(close_conversation)()
    await database_sync_to_async(run_due_timers)(later + timedelta(days=29))
    assert await database_sync_to_async(files)() == {"kept.txt"}
    await database_sync_to_async(run_due_timers)(later + timedelta(days=30, seconds=61))
    assert await database_sync_to_async(files)() == set()
    assert await get(kept["url"]) == 404


def test_retention_is_off_by_default(chat_line, settings):  # noqa: F811
    assert settings.LIVECHAT_ATTACHMENT_RETENTION_DAYS == 0
