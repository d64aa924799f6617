"""The generic REST connector: an integrator's own system sends client messages in and receives agent
messages at a callback URL. Documented for integrators in docs/rest-connector.md.

Credentials live in `Connector.secrets` (never shown back): `token_hash` (SHA-256 of the bearer token the
integrator sends; the token itself is shown once when created), `signing_secret` (signs our callbacks;
shown once together with the token) and `callback_url` (where agent, bot and system messages the client
may see are POSTed). See contactcenter.services.rest_connector for creating and changing them.

Inbound item shape (ids are the integrator's, `message.id` is the idempotency key):
`{"user": {"id", "name", "last_name"?, "email"?, "phone"?, "picture"?: {"url"}, "url"?},
  "chat": {"id", "name"?, "url"?},
  "message": {"id", "date": unix seconds | ISO 8601, "text"? , "files"?: [{"url", "name"?}],
              "rating"?: "like" | "dislike"}}`
A message has text and/or files, or a rating instead.

Outbound callback: `POST <callback_url>` with body
`{"event": "message", "message": {"id", "text", "attachments", "author": {"type", "name"}, "created_at"},
  "chat": {"id"}, "user": {"id"}, "session_id"}`, headers `X-CC-Timestamp` (unix seconds) and
`X-CC-Signature: sha256=<hex HMAC-SHA256 under the signing secret of "<timestamp>.<raw body>">`.
Retries: contactcenter.services.outbound.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from contactcenter.api import is_id
from contactcenter.connectors.kinds import ConnectorKind
from contactcenter.models import Connector, OutboundDelivery
from contactcenter.numbers import is_decimal
from contactcenter.services.outbound import AttemptOutcome, outbound_delivery_start, register_outbound_attempt
from contactcenter.text import text_accept
from openlines.attachments import files_from_json
from openlines.outbound_guard import DestinationRefused, DestinationUnresolved, guarded_http_client
from openlines.selectors import message_author_for_client
from openlines.services.actions import MAX_MESSAGE_LENGTH
from openlines.services.delivery import register_sender
from openlines.services.ingest import InboundClient, InboundMessage
from openlines.services.ratings import DISLIKE, LIKE
from openlines.session_models import Message

# Keys in Connector.secrets.
TOKEN_HASH = "token_hash"  # noqa: S105
SIGNING_SECRET = "signing_secret"  # noqa: S105
CALLBACK_URL = "callback_url"

CALLBACK_TIMEOUT_SECONDS = 10.0
SIGNATURE_TOLERANCE_SECONDS = 300
MAX_ID_LENGTH = 255
MAX_NAME_LENGTH = 255
MAX_PHONE_LENGTH = 64
RATINGS = {"like": LIKE, "dislike": DISLIKE}
# Ratings sent as data are stored as the messenger convention's text, so the history reads the same.
RATING_TEXTS = {LIKE: "1", DISLIKE: "0"}
# Plausible message dates: from 2000 to 2999 (a millisecond timestamp lands far beyond and is refused).
EARLIEST_UNIX, LATEST_UNIX = 946684800, 32503680000

_url = URLValidator(schemes=["http", "https"])
_email = EmailValidator()


# --- Credentials and signatures -----------------------------------------------------------------------------


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(*, connector: Connector, token: str) -> bool:
    """Does `token` match the connector's stored hash (constant-time)? False when none is set."""
    stored = str(connector.secrets.get(TOKEN_HASH, ""))
    return hmac.compare_digest(stored or "-", token_hash(token)) and bool(stored)


def signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over `timestamp + "." + body`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signature_verify(
    *,
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    now: float | None = None,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """What an integrator's endpoint does with our callback: the signature matches the raw body and the
    timestamp is recent (a replayed old callback is refused)."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - sent) > tolerance:
        return False
    return hmac.compare_digest(signature(secret=secret, timestamp=timestamp, body=body), header)


# --- Inbound payloads ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestInbound:
    client: InboundClient
    message: InboundMessage


def _object(raw: Any, path: str, allowed: set[str], errors: dict[str, list[str]]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        errors[path] = [_("Enter an object.")]
        return {}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        errors[path] = [_("Unknown fields: %(names)s.") % {"names": ", ".join(unknown)}]
    return raw


def _id(raw: Any, path: str, errors: dict[str, list[str]]) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int) or not str(raw).strip():
        errors[path] = [_("Enter an id (a string or a number).")]
        return ""
    try:
        value = text_accept(str(raw), field=path).strip()
    except ValidationError as error:
        errors.update(error.message_dict)
        return ""
    if len(value) > MAX_ID_LENGTH:
        errors[path] = [_("At most %(n)d characters.") % {"n": MAX_ID_LENGTH}]
    return value


def _text(raw: Any, path: str, errors: dict[str, list[str]], *, limit: int, required: bool = False) -> str:
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        errors[path] = [_("Enter text.")]
        return ""
    try:
        value = text_accept(raw, field=path).strip()
    except ValidationError as error:
        errors.update(error.message_dict)
        return ""
    if required and not value:
        errors[path] = [_("This field is required.")]
    elif len(value) > limit:
        errors[path] = [_("At most %(n)d characters.") % {"n": limit}]
    return value


def url_field(raw: Any, path: str, errors: dict[str, list[str]]) -> str:
    """An optional http(s) URL; a bad one is reported under `path` in `errors`."""
    if raw is None or raw == "":
        return ""
    try:
        if not isinstance(raw, str) or len(raw) > 1000:
            raise ValidationError("")
        _url(raw)
    except ValidationError:
        errors[path] = [_("Enter a valid http(s) URL.")]
        return ""
    return raw


def _date(raw: Any, path: str, errors: dict[str, list[str]]) -> datetime | None:
    message = _("Enter the time as unix seconds or an ISO 8601 date and time.")
    if isinstance(raw, bool):
        errors[path] = [message]
        return None
    if isinstance(raw, int | float):
        if not EARLIEST_UNIX <= raw <= LATEST_UNIX:
            errors[path] = [_("Enter unix time in seconds (not milliseconds).")]
            return None
        return datetime.fromtimestamp(raw, tz=UTC)
    if isinstance(raw, str):
        try:
            moment = parse_datetime(raw.strip())
        except ValueError:
            moment = None
        if moment is not None:
            return moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)
    errors[path] = [message]
    return None


def inbound_parse(raw: Any) -> RestInbound:
    """One inbound item as ingest's client and message; ValidationError keyed by field path otherwise."""
    errors: dict[str, list[str]] = {}
    item = _object(raw, "", {"user", "chat", "message"}, errors)
    if "" in errors:
        raise ValidationError({"__all__": errors.pop("")})
    for key in ("user", "chat", "message"):
        if key not in item:
            errors[key] = [_("This field is required.")]
    user = _object(
        item.get("user", {}), "user", {"id", "name", "last_name", "email", "phone", "picture", "url"}, errors
    )
    chat = _object(item.get("chat", {}), "chat", {"id", "name", "url"}, errors)
    message = _object(item.get("message", {}), "message", {"id", "date", "text", "files", "rating"}, errors)
    if errors:
        raise ValidationError(errors)

    user_id = _id(user.get("id"), "user.id", errors)
    name = _text(user.get("name"), "user.name", errors, limit=MAX_NAME_LENGTH, required=True)
    last_name = _text(user.get("last_name"), "user.last_name", errors, limit=MAX_NAME_LENGTH)
    full_name = f"{name} {last_name}".strip()
    if len(full_name) > MAX_NAME_LENGTH and "user.name" not in errors:
        errors["user.last_name"] = [
            _("The full name can be at most %(n)d characters.") % {"n": MAX_NAME_LENGTH}
        ]
    email_address = _text(user.get("email"), "user.email", errors, limit=254)
    if email_address and "user.email" not in errors:
        try:
            _email(email_address)
        except ValidationError:
            errors["user.email"] = [_("Enter a valid e-mail address.")]
    phone = _text(user.get("phone"), "user.phone", errors, limit=MAX_PHONE_LENGTH)
    picture = user.get("picture")
    avatar = ""
    if picture is not None:
        picture = _object(picture, "user.picture", {"url"}, errors)
        avatar = url_field(picture.get("url"), "user.picture.url", errors)
    profile = url_field(user.get("url"), "user.url", errors)

    chat_id = _id(chat.get("id"), "chat.id", errors)
    # The chat's name and URL are accepted for compatibility with imconnector payloads; chats have no title.
    _text(chat.get("name"), "chat.name", errors, limit=MAX_NAME_LENGTH)
    url_field(chat.get("url"), "chat.url", errors)

    message_id = _id(message.get("id"), "message.id", errors)
    sent_at = None
    if "date" not in message:
        errors["message.date"] = [_("This field is required.")]
    else:
        sent_at = _date(message["date"], "message.date", errors)
    text = _text(message.get("text"), "message.text", errors, limit=MAX_MESSAGE_LENGTH)
    files: list[dict[str, Any]] = []
    try:
        files = files_from_json(message.get("files"), path="message.files")
    except ValidationError as invalid:
        errors.update(invalid.message_dict)
    rating = None
    if "rating" in message:
        rating = RATINGS.get(message["rating"]) if isinstance(message["rating"], str) else None
        if rating is None:
            errors["message.rating"] = [_("Enter like or dislike.")]
        elif text or files:
            errors["message.rating"] = [_("Send a rating on its own, without text or files.")]
    elif not text and not files and "message.text" not in errors and "message.files" not in errors:
        errors["message.text"] = [_("Send text, files, or a rating.")]
    if errors:
        raise ValidationError(errors)
    if rating is not None:
        text = RATING_TEXTS[rating]
        files = [{"kind": "rating", "vote": "like" if rating == LIKE else "dislike"}]
    return RestInbound(
        client=InboundClient(
            external_id=user_id,
            name=full_name,
            phone=phone,
            email=email_address,
            avatar_url=avatar,
            profile_url=profile,
        ),
        message=InboundMessage(
            external_id=message_id,
            text=text,
            attachments=files,
            external_chat_id=chat_id,
            sent_at=sent_at,
            rating=rating,
        ),
    )


RECEIPT_STATUSES = (Message.Delivery.DELIVERED, Message.Delivery.READ)


def receipts_parse(raw: Any) -> list[tuple[int, str]]:
    """`{"messages": [{"id": <our message id>, "status": "delivered" | "read"}]}` as (id, status) pairs."""
    errors: dict[str, list[str]] = {}
    body = _object(raw, "__all__", {"messages"}, errors)
    items = body.get("messages")
    if not isinstance(items, list) or not items:
        errors["messages"] = [_("Enter a non-empty list of receipts.")]
    elif len(items) > 100:
        errors["messages"] = [_("At most %(n)d receipts at once.") % {"n": 100}]
    if errors:
        raise ValidationError(errors)
    receipts = []
    assert isinstance(items, list)
    for index, item in enumerate(items):
        here = f"messages[{index}]"
        entry = _object(item, here, {"id", "status"}, errors)
        message_id = entry.get("id")
        if not is_id(message_id):
            errors[f"{here}.id"] = [_("Enter our message id (a positive whole number).")]
        status = entry.get("status")
        if status not in RECEIPT_STATUSES:
            errors[f"{here}.status"] = [_("Enter delivered or read.")]
        if not errors:
            receipts.append((int(message_id), str(status)))  # type: ignore[arg-type]
    if errors:
        raise ValidationError(errors)
    return receipts


# --- Outbound -----------------------------------------------------------------------------------------------


def _http_client() -> httpx.Client:
    return guarded_http_client(timeout=CALLBACK_TIMEOUT_SECONDS)


# Tests replace this with a factory of clients on an httpx.MockTransport.
http_client_factory: Callable[[], httpx.Client] = _http_client


def outbound_body(message: Message) -> dict[str, Any]:
    chat = message.chat
    return {
        "event": "message",
        "message": {
            "id": message.pk,
            "text": message.text,
            "attachments": [_attachment_for_callback(a) for a in message.attachments],
            "author": message_author_for_client(message=message),
            "created_at": message.created_at.isoformat(),
        },
        "chat": {"id": chat.external_chat_id},
        "user": {"id": chat.client.external_id},
        "session_id": message.session_id,
    }


def _attachment_for_callback(attachment: dict[str, Any]) -> dict[str, Any]:
    """A file we store goes out as a signed, expiring download link with its name, type and size; links
    and bot buttons go as they are."""
    path = attachment.get("path")
    if not isinstance(path, str) or not path:
        return attachment
    from contactcenter.services.agent_files import file_link

    return {
        "kind": attachment.get("kind", "document"),
        "name": attachment.get("name", ""),
        "mime": attachment.get("mime", "application/octet-stream"),
        "size": attachment.get("size"),
        "url": file_link(path),
    }


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("Retry-After", "").strip()
    if not raw:
        return None
    if is_decimal(raw):
        return float(raw)
    try:
        moment = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max((moment - timezone.now()).total_seconds(), 0.0)


@register_sender(ConnectorKind.REST)
def rest_message_send(message: Message) -> None:
    outbound_delivery_start(message_id=message.pk, connector=message.chat.client.connector)


@register_outbound_attempt(ConnectorKind.REST)
def rest_delivery_attempt(delivery: OutboundDelivery) -> AttemptOutcome:
    """POST the message to the connector's callback URL once, signed."""
    connector = delivery.connector
    url = str(connector.secrets.get(CALLBACK_URL, ""))
    secret = str(connector.secrets.get(SIGNING_SECRET, ""))
    if not connector.active:
        return AttemptOutcome(acknowledged=False, error="The connector is switched off.", permanent=True)
    if not url:
        return AttemptOutcome(
            acknowledged=False, error="No callback URL is set for this connector.", permanent=True
        )
    if not secret:
        return AttemptOutcome(
            acknowledged=False, error="No signing secret: create the connector's credentials.", permanent=True
        )
    message = Message.objects.select_related("chat__client", "session__line", "session__bot").get(
        pk=delivery.message_id
    )
    body = json.dumps(outbound_body(message), separators=(",", ":"), ensure_ascii=False).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "contactcenter-rest-connector/1",
        "X-CC-Timestamp": timestamp,
        "X-CC-Signature": signature(secret=secret, timestamp=timestamp, body=body),
        "X-CC-Delivery": str(delivery.pk),
        "X-CC-Attempt": str(delivery.attempts + 1),
    }
    try:
        with http_client_factory() as client:
            response = client.post(url, content=body, headers=headers)
    except DestinationUnresolved:
        return AttemptOutcome(acknowledged=False, error="The callback URL's host name did not resolve.")
    except DestinationRefused:
        return AttemptOutcome(
            acknowledged=False,
            error="The callback URL points to a private or reserved network address.",
            permanent=True,
        )
    except httpx.TimeoutException:
        return AttemptOutcome(acknowledged=False, error="The callback URL did not answer in time.")
    except httpx.HTTPError as error:
        return AttemptOutcome(
            acknowledged=False, error=f"Could not reach the callback URL: {type(error).__name__}."
        )
    code = response.status_code
    if 200 <= code < 300:
        return AttemptOutcome(acknowledged=True, status_code=code)
    return AttemptOutcome(
        acknowledged=False,
        status_code=code,
        error=f"The callback URL answered HTTP {code}.",
        permanent=400 <= code < 500 and code not in (408, 429),
        retry_after=_retry_after(response),
    )
