"""What WhatsApp Cloud API, Messenger and Instagram share: Meta webhooks and the Graph API.

- ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, raw body)>`` on every event POST;
- the ``hub.mode=subscribe`` / ``hub.verify_token`` / ``hub.challenge`` GET handshake;
- the Graph error envelope ``{"error": {message, type, code, error_subcode, error_data, fbtrace_id}}``;
- the Messenger-style ``entry[].messaging[]`` events shared by Messenger and Instagram, and their Send API.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from abc import abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import httpx
from django.utils.translation import gettext as _

from contactcenter.connectors.adapters.base import (
    DEFAULT_MAX_MEDIA_BYTES,
    Attachment,
    AttachmentKind,
    ChannelAdapter,
    ChannelApiError,
    ContactEvent,
    FetchedMedia,
    HandshakeResponse,
    InboundMessage,
    ParsedBatch,
    PayloadError,
    SendError,
    StatusUpdate,
    WebhookRequest,
    as_id,
    as_list,
    as_object,
    from_timestamp,
    load_json,
    obj_or_empty,
    optional_float,
    optional_int,
    optional_str,
    response_json,
    retry_after_header,
    secrets_equal,
    unexpected_response,
)

GRAPH_API_URL = "https://graph.facebook.com"
DEFAULT_GRAPH_VERSION = "v25.0"
SIGNATURE_HEADER = "X-Hub-Signature-256"

_MAX_CHALLENGE_LENGTH = 256
_SAFE_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")


# --------------------------------------------------------------------------------------------------
# Webhook authenticity and handshake


def hub_signature(app_secret: str, body: bytes) -> str:
    """The header value Meta sends for ``body``: ``sha256=`` and the hex HMAC keyed with the app secret."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify_hub_signature(request: WebhookRequest, app_secret: str) -> bool:
    """Check ``X-Hub-Signature-256`` over the RAW body (never a re-serialised dict) in constant time."""
    given = request.headers.get(SIGNATURE_HEADER, "").strip()
    if not app_secret or not given.lower().startswith("sha256="):
        return False
    expected = hub_signature(app_secret, request.body)
    return secrets_equal("sha256=" + given[7:].lower(), expected)


def hub_handshake(request: WebhookRequest, verify_token: str) -> HandshakeResponse | None:
    """Answer Meta's verification GET: 200 with the raw challenge, or 403. POSTs are not handshakes."""
    if request.method != "GET":
        return None
    challenge = request.query.get("hub.challenge", "")
    if (
        request.query.get("hub.mode") == "subscribe"
        and secrets_equal(request.query.get("hub.verify_token"), verify_token)
        and challenge
        and len(challenge) <= _MAX_CHALLENGE_LENGTH
    ):
        return HandshakeResponse(200, challenge.encode())
    return HandshakeResponse(403, b"")


# --------------------------------------------------------------------------------------------------
# Graph API errors

# Sources: connectors-reference.md §2.5, §3.4 (Meta error-code pages, pywa's table, Messenger docs).
_RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, 80007, 130429, 131048, 131056})
_TEMPORARY_CODES = frozenset({1, 2, 1200, 131000, 131016, 133004})
_AUTH_CODES = frozenset({0, 3, 10, 102, 190, 131005})
_BLOCKED_CODES = frozenset({551, 131026})
_WINDOW_CODES = frozenset({131047})
_ACCOUNT_CODES = frozenset({368, 131031, 131042, 131045})
_INVALID_CODES = frozenset({100, 131008, 131009, 131021, 131051, 131052, 131053, 131062, 135000})
_WINDOW_SUBCODES = frozenset({2018278})  # code 10: "message sent outside of allowed window"
_NO_USER_SUBCODES = frozenset({2018001})  # code 100: "no matching user found"


def _regain_access_seconds(response: httpx.Response) -> float | None:
    """``X-Business-Use-Case-Usage``: ``estimated_time_to_regain_access`` is given in minutes."""
    header = response.headers.get("x-business-use-case-usage")
    if not header:
        return None
    try:
        usage = json.loads(header)
    except ValueError:
        return None
    minutes: list[float] = []
    if isinstance(usage, dict):
        for entries in usage.values():
            for entry in entries if isinstance(entries, list) else []:
                value = (
                    optional_float(entry.get("estimated_time_to_regain_access"))
                    if isinstance(entry, dict)
                    else None
                )
                if value:
                    minutes.append(value)
    return max(minutes) * 60 if minutes else None


def graph_error(response: httpx.Response) -> SendError:
    """Map a Graph API error response (WhatsApp Cloud, Messenger, Instagram) to a ``SendError``."""
    data = response_json(response)
    error = data.get("error") if data is not None else None
    if not isinstance(error, dict):
        return unexpected_response(response)
    code = optional_int(error.get("code"))
    subcode = optional_int(error.get("error_subcode"))
    message = optional_str(error.get("message")) or ""
    error_data = obj_or_empty(error.get("error_data"))
    details = optional_str(error_data.get("details"))
    detail = f"{message} ({details})" if details else message
    code_text = str(code) if subcode is None else f"{code}/{subcode}"

    def fail(
        category: Any, reason: str, *, retryable: bool = False, retry_after: float | None = None
    ) -> SendError:
        return SendError(retryable, retry_after, code_text, reason, category, detail=detail or None)

    if code in _WINDOW_CODES or (code == 10 and subcode in _WINDOW_SUBCODES):
        return fail(
            "window_closed",
            _(
                "The customer last wrote more than 24 hours ago; a free-form message can no longer be "
                "sent (WhatsApp needs a template, Messenger and Instagram a HUMAN_AGENT tag)."
            ),
        )
    if code in _RATE_LIMIT_CODES:
        return fail(
            "rate_limited",
            _("The messenger limits how fast we may send; the message will be retried."),
            retryable=True,
            retry_after=retry_after_header(response) or _regain_access_seconds(response),
        )
    if code in _BLOCKED_CODES or (code == 100 and subcode in _NO_USER_SUBCODES):
        return fail(
            "blocked",
            _("The customer cannot receive messages from us (blocked, unavailable or not on the app)."),
        )
    if code in _AUTH_CODES or (code is not None and 200 <= code <= 299):
        return fail(
            "auth",
            _("The access token is invalid, expired or lacks a permission; reconnect the channel."),
        )
    if code in _ACCOUNT_CODES:
        return fail("account", _("The business account is restricted or misconfigured at Meta."))
    if code in _TEMPORARY_CODES or error.get("is_transient") is True:
        return fail(
            "unavailable",
            _("The messenger failed temporarily; the message will be retried."),
            retryable=True,
            retry_after=retry_after_header(response),
        )
    if code in _INVALID_CODES or (code is not None and 132000 <= code <= 132016):
        return fail("invalid_request", _("The messenger refused the message as invalid."))
    if response.status_code >= 500:
        return fail(
            "unavailable",
            _("The messenger failed temporarily; the message will be retried."),
            retryable=True,
            retry_after=retry_after_header(response),
        )
    return fail("other", _("The messenger refused the message."))


# --------------------------------------------------------------------------------------------------
# Adapter base for the three Meta platforms

CredentialsT = TypeVar("CredentialsT")


def meta_time(value: Any, where: str) -> datetime:
    """Meta messaging timestamps are milliseconds; dashboard test events sometimes send seconds."""
    number = optional_int(value)
    if number is not None and number < 100_000_000_000:
        return from_timestamp(number, where)
    return from_timestamp(value, where, millis=True)


class MetaAdapter(ChannelAdapter[CredentialsT]):
    def __init__(
        self,
        *,
        client: httpx.Client,
        graph_url: str = GRAPH_API_URL,
        graph_version: str = DEFAULT_GRAPH_VERSION,
        max_media_bytes: int = DEFAULT_MAX_MEDIA_BYTES,
    ) -> None:
        super().__init__(client=client, max_media_bytes=max_media_bytes)
        self.graph_url = graph_url.rstrip("/")
        self.graph_version = graph_version.strip("/")

    @abstractmethod
    def _app_secret(self, credentials: CredentialsT) -> str: ...

    @abstractmethod
    def _verify_token(self, credentials: CredentialsT) -> str: ...

    def verify(self, request: WebhookRequest, credentials: CredentialsT) -> bool:
        return verify_hub_signature(request, self._app_secret(self._check(credentials)))

    def handshake(self, request: WebhookRequest, credentials: CredentialsT) -> HandshakeResponse | None:
        return hub_handshake(request, self._verify_token(self._check(credentials)))

    def _graph_endpoint(self, *segments: str, base_url: str | None = None) -> str:
        for segment in segments:
            if not _SAFE_PATH_SEGMENT.match(segment):
                raise ChannelApiError(
                    SendError(
                        False, None, "bad_id", _("An account or media id has an invalid format."), "other"
                    )
                )
        return "/".join((base_url or self.graph_url, self.graph_version, *segments))

    def _graph(
        self,
        method: str,
        url: str,
        token: str,
        *,
        json_body: Any = None,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> Mapping[str, Any] | SendError:
        """One Graph call with a Bearer token (never ``?access_token=``, which ends up in logs)."""
        response = self._request(
            method,
            url,
            headers={"Authorization": f"Bearer {token}"},
            json_body=json_body,
            params=params,
            data=data,
            files=files,
        )
        if isinstance(response, SendError):
            return response
        payload = response_json(response)
        if response.is_success and payload is not None and "error" not in payload:
            return payload
        return graph_error(response)

    def _graph_or_raise(self, method: str, url: str, token: str, **kwargs: Any) -> Mapping[str, Any]:
        result = self._graph(method, url, token, **kwargs)
        if isinstance(result, SendError):
            raise ChannelApiError(result)
        return result


# --------------------------------------------------------------------------------------------------
# Messenger-style messaging events (Messenger and Instagram)

_ATTACHMENT_KINDS: dict[str, AttachmentKind] = {
    "image": "photo",
    "audio": "audio",
    "video": "video",
    "file": "document",
    "sticker": "sticker",
    "location": "location",
}


def _messaging_attachments(message: Mapping[str, Any]) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    seen: set[tuple[str, str]] = set()
    for raw in as_list(message.get("attachments"), "message.attachments"):
        item = as_object(raw, "message.attachments[]")
        kind_name = optional_str(item.get("type")) or "other"
        payload = obj_or_empty(item.get("payload"))
        url = optional_str(payload.get("url"))
        sticker_id = payload.get("sticker_id")
        kind: AttachmentKind = _ATTACHMENT_KINDS.get(kind_name, "share")
        if kind == "photo" and sticker_id is not None:
            kind = "sticker"  # until the 2026 change stickers also arrive as images with a sticker_id
        if kind == "sticker":
            key = ("sticker", str(sticker_id) if sticker_id is not None else (url or ""))
        else:
            key = (kind, url or json.dumps(payload, sort_keys=True))
        if key in seen:
            continue
        seen.add(key)
        if kind == "location":
            coordinates = obj_or_empty(payload.get("coordinates"))
            found.append(
                Attachment(
                    kind="location",
                    latitude=optional_float(coordinates.get("lat")),
                    longitude=optional_float(coordinates.get("long")),
                    title=optional_str(item.get("title")),
                )
            )
            continue
        found.append(
            Attachment(
                kind=kind,
                media_ref=url,
                unique_id=str(sticker_id) if sticker_id is not None else None,
                title=(optional_str(payload.get("title")) or optional_str(item.get("title")))
                if kind == "share"
                else None,
            )
        )
    return tuple(found)


_HANDLED_EVENTS = ("message", "message_edit", "postback", "delivery", "read")


class BatchBuilder:
    def __init__(self) -> None:
        self.messages: list[InboundMessage] = []
        self.statuses: list[StatusUpdate] = []
        self.events: list[ContactEvent] = []
        self.dedup: list[str] = []
        self.errors: list[str] = []

    def build(self) -> ParsedBatch:
        return ParsedBatch(
            messages=tuple(self.messages),
            statuses=tuple(self.statuses),
            contact_events=tuple(self.events),
            dedup_ids=tuple(dict.fromkeys(self.dedup)),
            errors=tuple(self.errors),
        )


def parse_messaging_event(
    item: Mapping[str, Any], *, account_id: str, fallback_time: datetime | None, out: BatchBuilder
) -> None:
    """One ``entry[].messaging[]`` (or ``standby[]``) item of a Messenger or Instagram webhook.

    Only the kinds below are read (and then must be well-formed); anything else (reactions, optins,
    referrals, handover and policy notices, some without a sender) is skipped, so one unknown item
    never costs the rest of a batch.
    """
    if not any(isinstance(item.get(key), dict) for key in _HANDLED_EVENTS):
        return
    sender = as_id(as_object(item.get("sender"), "messaging.sender").get("id"), "messaging.sender.id")
    recipient = as_id(
        as_object(item.get("recipient"), "messaging.recipient").get("id"), "messaging.recipient.id"
    )
    at = meta_time(item["timestamp"], "messaging.timestamp") if "timestamp" in item else fallback_time
    if at is None:
        raise PayloadError(_("The messaging event has no timestamp."))
    stamp = int(at.timestamp() * 1000)
    if isinstance(item.get("message"), dict):
        message = item["message"]
        if message.get("is_deleted") is True:
            return  # Instagram "unsend": nothing to show; the engine keeps what it stored
        mid = as_id(message.get("mid"), "message.mid")
        is_echo = message.get("is_echo") is True
        reply = obj_or_empty(message.get("reply_to"))
        out.messages.append(
            InboundMessage(
                external_id=mid,
                chat_id=recipient if is_echo else sender,
                sender_id=sender,
                sender_name=None,
                sender_phone=None,
                text=optional_str(message.get("text")),
                attachments=_messaging_attachments(message),
                sent_at=at,
                is_echo=is_echo,
                reply_to=optional_str(reply.get("mid")),
                raw=item,
                account_id=account_id,
            )
        )
        out.dedup.append(mid)
    elif isinstance(item.get("message_edit"), dict):
        edit = item["message_edit"]
        mid = as_id(edit.get("mid"), "message_edit.mid")
        out.messages.append(
            InboundMessage(
                external_id=mid,
                chat_id=sender,
                sender_id=sender,
                sender_name=None,
                sender_phone=None,
                text=optional_str(edit.get("text")),
                attachments=(),
                sent_at=at,
                raw=item,
                account_id=account_id,
                edited=True,
            )
        )
        out.dedup.append(f"{mid}:edit:{optional_int(edit.get('num_edit')) or stamp}")
    elif isinstance(item.get("postback"), dict):
        postback = item["postback"]
        mid = optional_str(postback.get("mid")) or f"postback:{sender}:{stamp}"
        out.messages.append(
            InboundMessage(
                external_id=mid,
                chat_id=sender,
                sender_id=sender,
                sender_name=None,
                sender_phone=None,
                text=optional_str(postback.get("title")) or optional_str(postback.get("payload")),
                attachments=(),
                sent_at=at,
                raw=item,
                account_id=account_id,
            )
        )
        out.dedup.append(mid)
    elif isinstance(item.get("delivery"), dict):
        delivery = item["delivery"]
        for raw_mid in as_list(delivery.get("mids"), "delivery.mids"):
            mid = as_id(raw_mid, "delivery.mids[]")
            out.statuses.append(
                StatusUpdate(
                    "delivered", at, external_id=mid, recipient_id=sender, account_id=account_id, raw=item
                )
            )
            out.dedup.append(f"{mid}:delivered")
        if delivery.get("watermark") is not None:
            watermark = meta_time(delivery["watermark"], "delivery.watermark")
            out.statuses.append(
                StatusUpdate(
                    "delivered",
                    at,
                    watermark=watermark,
                    recipient_id=sender,
                    account_id=account_id,
                    raw=item,
                )
            )
            out.dedup.append(f"delivered:{sender}:{int(watermark.timestamp() * 1000)}")
    elif isinstance(item.get("read"), dict):
        read = item["read"]
        if read.get("watermark") is not None:
            watermark = meta_time(read["watermark"], "read.watermark")
            out.statuses.append(
                StatusUpdate(
                    "read", at, watermark=watermark, recipient_id=sender, account_id=account_id, raw=item
                )
            )
            out.dedup.append(f"read:{sender}:{int(watermark.timestamp() * 1000)}")
        elif read.get("mid") is not None:
            # Instagram messaging_seen names the last message seen: everything before it is read too.
            mid = as_id(read.get("mid"), "read.mid")
            out.statuses.append(
                StatusUpdate(
                    "read",
                    at,
                    external_id=mid,
                    recipient_id=sender,
                    cumulative=True,
                    account_id=account_id,
                    raw=item,
                )
            )
            out.dedup.append(f"{mid}:read")


class PageMessagingAdapter(MetaAdapter[CredentialsT]):
    """Messenger and Instagram: ``entry[].messaging[]`` webhooks and the Send API."""

    expected_object: ClassVar[str]
    always_messaging_type: ClassVar[bool]  # Messenger requires messaging_type; Instagram's docs omit it
    supports_metadata: ClassVar[bool]

    @abstractmethod
    def _token(self, credentials: CredentialsT) -> str: ...

    @abstractmethod
    def _send_url(self, credentials: CredentialsT) -> str: ...

    def parse(self, body: bytes) -> ParsedBatch:
        data = as_object(load_json(body), "payload")
        if data.get("object") != self.expected_object:
            raise PayloadError(
                _("The payload object is not %(expected)s.") % {"expected": self.expected_object}
            )
        out = BatchBuilder()
        for raw_entry in as_list(data.get("entry"), "entry", optional=False):
            entry = as_object(raw_entry, "entry[]")
            account_id = as_id(entry.get("id"), "entry.id")
            fallback = meta_time(entry["time"], "entry.time") if "time" in entry else None
            items = [
                *as_list(entry.get("messaging"), "entry.messaging"),
                *as_list(entry.get("standby"), "entry.standby"),
            ]
            # Dashboard test events arrive Page-style: entry[].changes[].value is the messaging item.
            for raw_change in as_list(entry.get("changes"), "entry.changes"):
                change = as_object(raw_change, "entry.changes[]")
                value = change.get("value")
                if isinstance(value, dict) and "sender" in value:
                    items.append(value)
            for raw_item in items:
                item = as_object(raw_item, "entry.messaging[]")
                parse_messaging_event(item, account_id=account_id, fallback_time=fallback, out=out)
        return out.build()

    def route_keys(self, body: bytes) -> tuple[str, ...]:
        try:
            data = load_json(body)
        except PayloadError:
            return ()
        entries = data.get("entry") if isinstance(data, dict) else None
        keys = [
            str(entry["id"])
            for entry in (entries if isinstance(entries, list) else [])
            if isinstance(entry, dict) and isinstance(entry.get("id"), int | str)
        ]
        return tuple(dict.fromkeys(keys))

    def _envelope(self, to: str, human_agent_tag: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"recipient": {"id": to}}
        if human_agent_tag:
            body["messaging_type"] = "MESSAGE_TAG"
            body["tag"] = "HUMAN_AGENT"
        elif self.always_messaging_type:
            body["messaging_type"] = "RESPONSE"
        return body

    def _sent_id(self, result: Mapping[str, Any] | SendError) -> str | SendError:
        if isinstance(result, SendError):
            return result
        message_id = result.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            return SendError(
                False, None, "bad_response", _("The messenger answered without a message id."), "other"
            )
        return message_id

    def _send_text_chunk(
        self,
        credentials: CredentialsT,
        *,
        to: str,
        text: str,
        reply_to: str | None,
        human_agent_tag: bool,
        metadata: str | None,
    ) -> str | SendError:
        body = self._envelope(to, human_agent_tag)
        message: dict[str, Any] = {"text": text}
        if metadata and self.supports_metadata:
            message["metadata"] = metadata[:1000]
        body["message"] = message
        try:
            url = self._send_url(credentials)
        except ChannelApiError as exc:
            return exc.error
        return self._sent_id(self._graph("POST", url, self._token(credentials), json_body=body))

    def fetch_media(
        self, credentials: CredentialsT, media_ref: str, *, max_bytes: int | None = None
    ) -> FetchedMedia:
        # Attachment URLs are signed CDN links: fetched without our token, which must not leak to them.
        self._check(credentials)
        return self._download(media_ref, max_bytes=max_bytes)


__all__ = [
    "DEFAULT_GRAPH_VERSION",
    "GRAPH_API_URL",
    "SIGNATURE_HEADER",
    "BatchBuilder",
    "MetaAdapter",
    "PageMessagingAdapter",
    "graph_error",
    "hub_handshake",
    "hub_signature",
    "meta_time",
    "parse_messaging_event",
    "verify_hub_signature",
]
