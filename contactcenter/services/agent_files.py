"""Files agents send to clients: the limits of each channel, storing an upload, the attachments a message
refers to, and signed links for platforms and integrators that fetch files from us.

Limits come from ONE table per channel: a messenger adapter's `Capabilities.media_limits`, and the two
tables below for the live chat and the REST connector (which are no platform adapters). An upload is
checked against its conversation's channel when it arrives, so the API refuses with a 400 naming the
limit before anything is sent.

An upload is stored like the files clients send: the live chat's under `livechat/<line>/<random>/<name>`
(the widget shows them from its public, unguessable link), every other channel's under
`connectors/<connector uuid>/<random>/<name>` (served to staff by `connector_media`). The answer carries a
signed token naming the conversation; a message refers to the file by it (`{"file": token}`), so an
agent cannot attach a file of another conversation or a path of their choosing.

Stored attachment: `{"kind": photo|video|audio|document, "name", "mime", "size", "path", "url"}` (plus
`"image"` on the live chat, which the widget uses to show a picture inline).
"""

from __future__ import annotations

import mimetypes
import re
import uuid
from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from contactcenter.connectors.adapters import ADAPTER_KINDS, get_adapter
from contactcenter.connectors.adapters.base import (
    MB,
    MediaLimit,
    OutboundMediaKind,
    media_kind_choose,
    media_limits_text,
)
from contactcenter.connectors.kinds import ConnectorKind
from openlines.attachments import MAX_FILES, files_from_json
from openlines.services import actions
from openlines.services.livechat import INLINE_IMAGE_TYPES
from openlines.session_models import Session

UPLOAD_SALT = "contactcenter.agent_file"
LINK_SALT = "contactcenter.file_link"
# A file is attached to a message soon after it is uploaded; an old token is refused.
UPLOAD_TOKEN_MAX_AGE = timedelta(days=1)
# How long a signed link (Viber, REST callbacks) keeps working: integrators may fetch late, retries run
# for about an hour.
LINK_MAX_AGE = timedelta(days=7)
MAX_NAME_LENGTH = 100

FILE_KINDS: frozenset[str] = frozenset({"photo", "video", "audio", "document"})

# The live chat shows images inline and offers everything else as a download, like visitors' files.
LIVECHAT_LIMITS: Mapping[OutboundMediaKind, MediaLimit] = MappingProxyType(
    {"photo": MediaLimit(10 * MB, frozenset(INLINE_IMAGE_TYPES)), "document": MediaLimit(10 * MB)}
)
# The REST connector hands integrators a link; any type, each kind named by its MIME type.
REST_LIMITS: Mapping[OutboundMediaKind, MediaLimit] = MappingProxyType(
    {
        "photo": MediaLimit(25 * MB, frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})),
        "video": MediaLimit(25 * MB),
        "audio": MediaLimit(25 * MB),
        "document": MediaLimit(25 * MB),
    }
)
_NO_FILES: Mapping[OutboundMediaKind, MediaLimit] = MappingProxyType({})


def file_limits_for(kind: str) -> Mapping[OutboundMediaKind, MediaLimit]:
    """What an agent may send on a channel of `kind` (empty: no files)."""
    if kind in ADAPTER_KINDS:
        return get_adapter(kind).capabilities.media_limits
    if kind == ConnectorKind.LIVECHAT:
        return LIVECHAT_LIMITS
    if kind == ConnectorKind.REST:
        return REST_LIMITS
    return _NO_FILES


def file_limits_json(kind: str) -> dict[str, Any]:
    """The limits for the workspace: shown on the attach button and checked before uploading."""
    limits = file_limits_for(kind)
    return {
        "max_bytes": max((limit.max_bytes for limit in limits.values()), default=0),
        "kinds": {
            name: {"max_bytes": limit.max_bytes, "types": sorted(limit.mime_types)}
            for name, limit in limits.items()
        },
        "text": media_limits_text(limits),
    }


def _refusal(kind: str, limits: Mapping[OutboundMediaKind, MediaLimit]) -> str:
    if not limits:
        return _("Files cannot be sent on this channel.")
    return _("This file cannot be sent on this channel (%(channel)s takes %(limits)s).") % {
        "channel": ConnectorKind(kind).label if kind in ConnectorKind.values else kind,
        "limits": media_limits_text(limits),
    }


def _mime_type(upload: Any, name: str) -> str:
    declared = str(getattr(upload, "content_type", "") or "").split(";")[0].strip().lower()
    if declared and declared != "application/octet-stream" and re.fullmatch(r"[\w.+-]+/[\w.+-]+", declared):
        return declared[:100]
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def agent_file_store(*, user: Any, session_id: int, upload: Any) -> dict[str, Any]:
    """Store a file an agent is about to send in a conversation they may write in.

    Returns the attachment and `file`, the signed token a message refers to it by. Raises
    PermissionDenied (not theirs to write in), ValidationError (no file, or beyond the channel's limits).
    """
    session = Session.objects.select_related("line", "chat__client__connector").filter(pk=session_id).first()
    if session is None:
        raise Session.DoesNotExist
    if not actions.session_can_view(user, session):
        raise PermissionDenied(_("You cannot see this conversation."))
    if session.closed:
        raise actions.ActionRefused(_("The conversation is closed."))
    if actions._relation(user, session) not in ("operator", "offered", "participant"):
        raise PermissionDenied(_("Join the conversation before writing in it."))
    if upload is None:
        raise ValidationError({"file": [_("Choose a file.")]})
    connector = session.chat.client.connector
    limits = file_limits_for(connector.kind)
    name = (str(upload.name or "") or "file")[-MAX_NAME_LENGTH:]
    mime = _mime_type(upload, name)
    size = int(upload.size or 0)
    if size <= 0:
        raise ValidationError({"file": [_("The file is empty.")]})
    kind = media_kind_choose(limits, mime_type=mime, size=size)
    if kind is None:
        raise ValidationError({"file": [_refusal(connector.kind, limits)]})
    try:
        safe_name = get_valid_filename(name)
    except Exception:
        safe_name = "file"
    random = uuid.uuid4().hex
    attachment: dict[str, Any] = {"kind": kind, "name": name, "mime": mime, "size": size}
    if connector.kind == ConnectorKind.LIVECHAT:
        path = default_storage.save(f"livechat/{session.line_id}/{random}/{safe_name}", upload)
        attachment["url"] = reverse("livechat:file", kwargs={"path": path})
        attachment["image"] = kind == "photo"
    else:
        path = default_storage.save(f"connectors/{connector.uuid}/{random}/{safe_name}", upload)
        attachment["url"] = reverse("contactcenter:connector_media", kwargs={"path": path})
    attachment["path"] = path
    token = signing.dumps({"session": session.pk, "attachment": attachment}, salt=UPLOAD_SALT)
    return {**attachment, "file": token}


def _uploaded(token: Any, *, session_id: int) -> dict[str, Any] | None:
    if not isinstance(token, str) or len(token) > 4000:
        return None
    try:
        data = signing.loads(token, salt=UPLOAD_SALT, max_age=UPLOAD_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("session") != session_id:
        return None
    attachment = data.get("attachment")
    return attachment if isinstance(attachment, dict) else None


def agent_attachments_from_json(
    raw: Any, *, session_id: int, path: str = "attachments"
) -> list[dict[str, Any]]:
    """The files of an agent's message: uploads named by their token (`{"file": "<token>"}`, from
    `agent_file_store` for this conversation) and links (`{"url": "https://...", "name"?: ...}`)."""
    if not isinstance(raw, list):
        return files_from_json(raw, path=path)  # None -> [], anything else -> the shape error
    if len(raw) > MAX_FILES:
        raise ValidationError({path: [_("At most %(n)d files.") % {"n": MAX_FILES}]})
    files: list[dict[str, Any] | None] = []
    links: list[tuple[int, Any]] = []
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(raw):
        if isinstance(item, dict) and "file" in item:
            attachment = _uploaded(item.get("file"), session_id=session_id) if set(item) == {"file"} else None
            if attachment is None:
                errors[f"{path}[{index}].file"] = [
                    _("Unknown file: upload it to this conversation first (it is valid for a day).")
                ]
            files.append(attachment)
        else:
            links.append((index, item))
            files.append(None)
    if links:
        try:
            parsed = files_from_json([item for _index, item in links], path=path)
        except ValidationError as invalid:
            for key, messages in invalid.message_dict.items():
                match = re.match(rf"{re.escape(path)}\[(\d+)\]", key)
                if match:
                    original = links[int(match.group(1))][0]
                    key = f"{path}[{original}]" + key[match.end() :]
                errors[key] = messages
        else:
            for (index, _item), attachment in zip(links, parsed, strict=True):
                files[index] = attachment
    if errors:
        raise ValidationError(errors)
    return [attachment for attachment in files if attachment is not None]


# --- Signed links ----------------------------------------------------------------------------------


def public_base_url() -> str:
    """Where platforms and integrators reach us: `CONNECTORS_PUBLIC_URL`, else `SITE_URL`."""
    return str(getattr(settings, "CONNECTORS_PUBLIC_URL", "") or settings.SITE_URL).rstrip("/")


def file_link(path: str) -> str:
    """An absolute, unguessable link to a stored file that works without a login until it expires."""
    token = signing.dumps(path, salt=LINK_SALT, compress=True)
    name = path.rsplit("/", 1)[-1]
    return public_base_url() + reverse("contactcenter:file_link", kwargs={"token": token, "name": name})


def file_link_path(token: str) -> str | None:
    """The stored path a link names, or None when it is forged or expired."""
    try:
        path = signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE)
    except signing.BadSignature:
        return None
    if (
        not isinstance(path, str)
        or ".." in path.split("/")
        or not path.startswith(("connectors/", "livechat/"))
    ):
        return None
    return path
