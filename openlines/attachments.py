"""Files attached to messages by URL: the one rule for what the APIs accept and how messages store them.

Stored shape: `{"kind": "file", "url": "https://...", "name": "spec.pdf"}` (buttons of bots are
`{"kind": "buttons", ...}`, see openlines.services.bots).
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

MAX_FILES = 10
MAX_URL_LENGTH = 1000
MAX_NAME_LENGTH = 255
UPLOAD_CLEANUP_BATCH = 200

_url = URLValidator(schemes=["http", "https"])


def files_from_json(raw: Any, *, path: str) -> list[dict[str, Any]]:
    """`[{"url": ..., "name"?: ...}]` as stored attachments; errors are keyed by their path under `path`
    (`files[1].url`). None is no files."""
    shape = _('Enter a list of files as {"url": "https://...", "name": "file.pdf"}.')
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValidationError({path: [shape]})
    if len(raw) > MAX_FILES:
        raise ValidationError({path: [_("At most %(n)d files.") % {"n": MAX_FILES}]})
    errors: dict[str, list[str]] = {}
    files = []
    for index, item in enumerate(raw):
        here = f"{path}[{index}]"
        if not isinstance(item, dict) or set(item) - {"url", "name"}:
            errors[here] = [shape]
            continue
        url, name = item.get("url"), item.get("name", "")
        try:
            if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
                raise ValidationError("")
            _url(url)
        except ValidationError:
            errors[f"{here}.url"] = [
                _("Enter a valid http(s) URL of at most %(n)d characters.") % {"n": MAX_URL_LENGTH}
            ]
            continue
        if name is None:
            name = ""
        if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
            errors[f"{here}.name"] = [
                _("Enter a file name of at most %(n)d characters.") % {"n": MAX_NAME_LENGTH}
            ]
            continue
        files.append({"kind": "file", "url": url, "name": name.strip() or url.rstrip("/").rsplit("/", 1)[-1]})
    if errors:
        raise ValidationError(errors)
    return files


# --- Anonymous uploads (the live chat widget) ---------------------------------------------------------------
# Everybody on the internet can upload through the widget, so what they may store is bounded: per line (a
# storage quota), per client address (bytes within a window), per image (pixels, checked from the header
# before anything is decoded). Archives are stored as they are, never unpacked. Files never attached to a
# message are deleted after LIVECHAT_UPLOAD_UNATTACHED_SECONDS; with LIVECHAT_ATTACHMENT_RETENTION_DAYS set,
# files of conversations closed longer ago than that are deleted too (their links then answer 404).


class UploadRefused(Exception):
    """An anonymous upload over a limit: `status` is the HTTP status, `errors` the form errors."""

    def __init__(self, status: int, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.status = status
        self.errors = errors


def _image_pixels(upload: Any) -> int | None:
    """Width x height from the image's header (nothing is decoded), or None when it is no image Pillow
    knows. Pillow's own bomb check refuses absurd sizes before we see them."""
    from PIL import Image

    position = upload.tell() if hasattr(upload, "tell") else 0
    try:
        with Image.open(upload) as image:
            width, height = image.size
    except Image.DecompressionBombError:
        return sys.maxsize
    except Exception:
        return None
    finally:
        upload.seek(position)
    return int(width) * int(height)


def anonymous_upload_check(*, line_id: int, address: str, upload: Any, now: datetime | None = None) -> None:
    """Raise UploadRefused when a widget visitor's file may not be stored (over the line's quota, the
    address's byte limit, or an image with too many pixels)."""
    from openlines.session_models import LivechatUpload

    now = now or timezone.now()
    size = int(upload.size)
    max_pixels = settings.LIVECHAT_UPLOAD_MAX_IMAGE_PIXELS
    pixels = _image_pixels(upload) if max_pixels > 0 else None
    if pixels is not None and pixels > max_pixels:
        raise UploadRefused(400, {"file": [_("The image is too large (too many pixels).")]})
    per_address = settings.LIVECHAT_UPLOAD_BYTES_PER_ADDRESS
    if per_address > 0 and address:
        since = now - timedelta(seconds=settings.LIVECHAT_UPLOAD_ADDRESS_WINDOW_SECONDS)
        used = LivechatUpload.objects.filter(address=address, created_at__gt=since).aggregate(
            total=Sum("size")
        )["total"]
        if (used or 0) + size > per_address:
            raise UploadRefused(429, {"__all__": [_("Too many files from your network; try again later.")]})
    quota = settings.LIVECHAT_UPLOAD_QUOTA_BYTES_PER_LINE
    if quota > 0:
        stored = LivechatUpload.objects.filter(line_id=line_id).aggregate(total=Sum("size"))["total"]
        if (stored or 0) + size > quota:
            raise UploadRefused(
                507, {"__all__": [_("This chat cannot take more files at the moment; send a link instead.")]}
            )


def anonymous_uploads_attach(*, paths: list[str], message_id: int, now: datetime | None = None) -> None:
    """The uploads a visitor's message refers to are kept (no longer deleted as unattached)."""
    from openlines.session_models import LivechatUpload

    if paths:
        LivechatUpload.objects.filter(path__in=paths, message__isnull=True).update(
            message_id=message_id, attached_at=now or timezone.now()
        )


def _uploads_delete(uploads: Any) -> int:
    from django.core.files.storage import default_storage

    deleted = 0
    for pk, path in list(uploads.values_list("pk", "path")[:UPLOAD_CLEANUP_BATCH]):
        try:
            default_storage.delete(path)
        except OSError:
            logger.exception("Could not delete the upload %s; retried on the next run", path)
            continue
        uploads.model.objects.filter(pk=pk).delete()
        deleted += 1
    return deleted


def anonymous_uploads_clean(*, now: datetime) -> int:
    """Delete the files of uploads never attached within LIVECHAT_UPLOAD_UNATTACHED_SECONDS and, when
    LIVECHAT_ATTACHMENT_RETENTION_DAYS is set, of conversations closed longer ago. Returns how many."""
    from openlines.session_models import LivechatUpload, SessionStatus

    unattached = LivechatUpload.objects.filter(
        message__isnull=True,
        created_at__lt=now - timedelta(seconds=settings.LIVECHAT_UPLOAD_UNATTACHED_SECONDS),
    )
    deleted = _uploads_delete(unattached.order_by("created_at"))
    days = settings.LIVECHAT_ATTACHMENT_RETENTION_DAYS
    if days > 0:
        expired = LivechatUpload.objects.filter(
            message__session__status__gte=SessionStatus.CLOSE,
            message__session__date_close__lt=now - timedelta(days=days),
        )
        deleted += _uploads_delete(expired.order_by("pk"))
    return deleted
