"""The adapter interface and the value types every messenger platform adapter speaks.

An adapter is stateless with respect to channels: credentials are passed to every call, so one adapter
instance (holding one ``httpx.Client``) serves every channel of its kind. Webhook handling goes:

1. ``handshake(request, credentials)``: a platform handshake (Meta ``hub.challenge`` GET, Viber's
   ``webhook`` callback) gets its answer here; ``None`` means the request is an ordinary event;
2. ``verify(request, credentials)``: the signature or secret over the raw body, in constant time;
3. ``parse(body)``: a ``ParsedBatch`` of messages, status updates and contact events, or ``PayloadError``.

Outbound calls return ``SendResult`` or ``SendError`` (never raise for platform or network errors);
``connect``/``disconnect``/``fetch_media`` raise ``ChannelApiError`` wrapping a ``SendError``.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, TypeVar

import httpx
from django.utils.translation import gettext as _

from contactcenter.connectors.adapters.text import LimitUnit, split_text_spans, text_measure
from contactcenter.numbers import is_decimal

if TYPE_CHECKING:
    from django.http import HttpRequest

ChannelKind = Literal["telegram", "whatsapp", "viber", "messenger", "instagram"]
AttachmentKind = Literal[
    "photo", "document", "audio", "video", "sticker", "location", "contact", "share", "other"
]
OutboundMediaKind = Literal["photo", "document", "audio", "video"]
DeliveryStatus = Literal["sent", "delivered", "read", "failed"]
ContactEventKind = Literal["blocked", "unblocked", "subscribed", "conversation_started"]
ErrorCategory = Literal[
    "rate_limited",  # retryable: throttled by the platform
    "unavailable",  # retryable: the platform failed temporarily
    "network",  # retryable: no answer, timeout, connection error
    "blocked",  # permanent: the client blocked us, left, or cannot receive messages
    "window_closed",  # permanent: the reply window is over (template / HUMAN_AGENT tag needed)
    "auth",  # permanent: token invalid, expired or lacking permission; the channel needs reconnecting
    "invalid_request",  # permanent: the platform refused the message as malformed or unsupported
    "account",  # permanent: our business account is restricted, suspended or misconfigured
    "unsupported",  # permanent: this adapter cannot send that on this platform
    "too_large",  # permanent: media above the size we accept or the platform allows
    "other",  # permanent: anything else, with the platform's text in ``detail``
]

MB = 1024 * 1024
DEFAULT_MAX_MEDIA_BYTES = 100 * MB

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------
# Requests and responses of the webhook endpoint


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive header mapping (keys are stored lower-cased)."""

    __slots__ = ("_items",)

    def __init__(self, headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None) -> None:
        pairs = headers.items() if isinstance(headers, Mapping) else (headers or ())
        self._items: dict[str, str] = {str(key).lower(): str(value) for key, value in pairs}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        # Values may carry secrets (the Telegram secret token header); keep them out of logs.
        return f"Headers({sorted(self._items)!r})"


@dataclass(frozen=True)
class WebhookRequest:
    """What the webhook view received: method, headers (case-insensitive), query and the RAW body."""

    method: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", self.method.upper())
        if not isinstance(self.headers, Headers):
            object.__setattr__(self, "headers", Headers(self.headers))
        object.__setattr__(self, "query", MappingProxyType(dict(self.query)))

    @classmethod
    def build(
        cls,
        method: str = "POST",
        *,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> WebhookRequest:
        return cls(method, headers or {}, query or {}, body)

    @classmethod
    def from_django(cls, request: HttpRequest) -> WebhookRequest:
        """Build from a Django request; ``request.body`` is the raw body the signatures are made over."""
        return cls(request.method or "GET", dict(request.headers), request.GET.dict(), request.body)


@dataclass(frozen=True)
class HandshakeResponse:
    """The answer to a platform handshake; ``body`` is plain text, never HTML (it echoes input)."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"


# --------------------------------------------------------------------------------------------------
# What a platform can do


@dataclass(frozen=True)
class MediaLimit:
    """What one kind of outbound file may be on a platform: its size and, when listed, its MIME types."""

    max_bytes: int
    mime_types: frozenset[str] = frozenset()  # empty: any type
    caption: bool = True  # the file can carry the message text as its caption

    def accepts(self, mime_type: str, size: int) -> bool:
        return size <= self.max_bytes and (not self.mime_types or mime_type in self.mime_types)


_PREFERRED_KIND: dict[str, OutboundMediaKind] = {"image": "photo", "video": "video", "audio": "audio"}


def media_kind_choose(
    limits: Mapping[OutboundMediaKind, MediaLimit], *, mime_type: str, size: int
) -> OutboundMediaKind | None:
    """How a file of this type and size goes out under ``limits``: as the kind its type suggests (an
    image as a photo), else as a document; None when no kind takes it."""
    preferred = _PREFERRED_KIND.get(mime_type.split("/", 1)[0], "document")
    for kind in dict.fromkeys((preferred, "document")):
        limit = limits.get(kind)
        if limit is not None and limit.accepts(mime_type, size):
            return kind
    return None


def media_limits_text(limits: Mapping[OutboundMediaKind, MediaLimit]) -> str:
    """The limits in words, e.g. "images (image/jpeg, image/png) up to 5 MB; files (any type) up to 1 GB"."""
    from django.template.defaultfilters import filesizeformat

    parts = []
    for kind, limit in limits.items():
        label = {
            "photo": _("images"),
            "video": _("videos"),
            "audio": _("audio"),
            "document": _("files"),
        }[kind]
        types = ", ".join(sorted(limit.mime_types)) if limit.mime_types else _("any type")
        parts.append(
            _("%(kind)s (%(types)s) up to %(size)s")
            % {"kind": label, "types": types, "size": filesizeformat(limit.max_bytes)}
        )
    return "; ".join(parts)


@dataclass(frozen=True)
class Capabilities:
    """Platform facts the engine and the agent UI need (sources in docs/connectors.md)."""

    text_limit: int
    text_limit_unit: LimitUnit
    caption_limit: int | None  # None: captions are sent as a separate text message
    reply_window: timedelta | None  # None: free-form messages are allowed at any time
    human_agent_window: timedelta | None  # Messenger/Instagram HUMAN_AGENT tag
    delivery_receipts: bool
    read_receipts: bool
    watermark_receipts: bool  # some receipts cover every earlier message, not just one
    block_events: bool  # the platform tells us when a client blocks us
    media_ref_ttl: timedelta | None  # how long an inbound media reference can be fetched
    send_media_by_url: bool
    send_media_upload: bool
    reply_to: bool  # outbound messages can quote an earlier message
    # What an agent can send, per kind: the one table the API, the workspace and the sender check.
    media_limits: Mapping[OutboundMediaKind, MediaLimit] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # Kinds the platform fetches from a public link without further facts about the file.
    media_by_url_kinds: frozenset[OutboundMediaKind] = frozenset({"photo", "video", "audio", "document"})


# --------------------------------------------------------------------------------------------------
# Parsed webhook content


@dataclass(frozen=True)
class Attachment:
    kind: AttachmentKind
    media_ref: str | None = None  # what ``fetch_media`` takes: file id, media id or short-lived URL
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    unique_id: str | None = None  # stable file identity for dedup (Telegram file_unique_id, WA sha256)
    title: str | None = None  # place name, shared contact's name or phone, shared link title


@dataclass(frozen=True)
class InboundMessage:
    """One message of a conversation.

    ``chat_id`` is the address to reply to (and the conversation key); ``sender_id`` is the durable
    identity of whoever wrote it. For echoes of our own messages ``sender_id`` is our account and
    ``chat_id`` still the client.
    """

    external_id: str
    chat_id: str
    sender_id: str
    sender_name: str | None
    sender_phone: str | None
    text: str | None
    attachments: tuple[Attachment, ...]
    sent_at: datetime
    is_echo: bool = False
    reply_to: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    account_id: str | None = None  # our side: phone number id, page id, IG account id
    edited: bool = False
    # Another durable id of the same sender (WhatsApp: the phone's wa_id when ``sender_id`` is the BSUID).
    sender_alias: str | None = None


@dataclass(frozen=True)
class ClientProfile:
    """What a platform's profile API says about a client (Messenger, Instagram: webhooks carry no name)."""

    name: str | None = None
    username: str | None = None
    avatar_url: str | None = None
    profile_url: str | None = None


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery/read/failed notice for our outbound messages.

    Either ``external_id`` (one message; with ``cumulative`` it also covers every earlier message to
    ``recipient_id``) or ``watermark`` (every message to ``recipient_id`` sent at or before it).
    """

    status: DeliveryStatus
    at: datetime
    external_id: str | None = None
    watermark: datetime | None = None
    recipient_id: str | None = None
    cumulative: bool = False
    error: str | None = None
    error_code: str | None = None
    account_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.external_id is None and self.watermark is None:
            raise ValueError("a status update needs an external_id or a watermark")


@dataclass(frozen=True)
class ContactEvent:
    sender_id: str
    kind: ContactEventKind
    at: datetime
    sender_name: str | None = None
    account_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class ParsedBatch:
    """Everything in one webhook request; ``dedup_ids`` are the platform's ids as strings.

    Telegram: the ``update_id``; Meta and Viber: one key per item (message id, ``<id>:<status>`` for a
    status, ``<kind>:<user>:<ms>`` for a contact event or a watermark receipt). ``errors`` holds
    account-level error notices that belong to no message (WhatsApp ``value.errors``).
    """

    messages: tuple[InboundMessage, ...] = ()
    statuses: tuple[StatusUpdate, ...] = ()
    contact_events: tuple[ContactEvent, ...] = ()
    dedup_ids: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.messages or self.statuses or self.contact_events or self.errors)


# --------------------------------------------------------------------------------------------------
# Outbound


@dataclass(frozen=True)
class SendResult:
    """A successful send; one platform message id per message actually sent (texts may be split)."""

    message_ids: tuple[str, ...]


@dataclass(frozen=True)
class SendError:
    """A failed platform call.

    ``reason`` is translated and meant for the agent; ``detail`` is the platform's own untranslated
    text, for logs. When a split text fails half way, ``sent_ids`` lists what was already sent and
    ``unsent_text`` is the rest of the original text to retry with.
    """

    retryable: bool
    retry_after: float | None
    code: str
    reason: str
    category: ErrorCategory = "other"
    detail: str | None = None
    sent_ids: tuple[str, ...] = ()
    unsent_text: str | None = None


SendOutcome = SendResult | SendError


@dataclass(frozen=True)
class OutboundMedia:
    """A file to send, either by a public URL the platform downloads or as bytes we upload."""

    kind: OutboundMediaKind
    url: str | None = None
    content: bytes | None = field(default=None, repr=False)
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.content is None):
            raise ValueError("OutboundMedia needs exactly one of url or content")


@dataclass(frozen=True)
class FetchedMedia:
    content: bytes = field(repr=False)
    mime_type: str | None = None
    file_name: str | None = None

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class ConnectResult:
    """What ``connect`` learned and what the admin must still do (Meta: paste URL and verify token)."""

    account_id: str
    account_name: str
    webhook_url: str
    verify_token: str | None = field(default=None, repr=False)
    admin_steps: tuple[str, ...] = ()


class PayloadError(ValueError):
    """The webhook body is not a payload of the expected shape; ``reason`` says what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChannelApiError(Exception):
    """A platform call made by connect/disconnect/fetch_media failed."""

    def __init__(self, error: SendError) -> None:
        super().__init__(error.reason)
        self.error = error


# --------------------------------------------------------------------------------------------------
# Credentials, one shape per platform. Secrets are kept out of ``repr`` so they never reach logs.


@dataclass(frozen=True)
class TelegramCredentials:
    bot_token: str = field(repr=False)
    secret_token: str = field(repr=False)  # our per-channel webhook secret, [A-Za-z0-9_-]{1,256}


@dataclass(frozen=True)
class WhatsAppCredentials:
    phone_number_id: str
    business_account_id: str
    access_token: str = field(repr=False)
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)


@dataclass(frozen=True)
class MessengerCredentials:
    page_id: str
    page_access_token: str = field(repr=False)
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)


@dataclass(frozen=True)
class InstagramCredentials:
    """``login="instagram"``: Instagram Login, graph.instagram.com, IG user token.

    ``login="facebook"``: the IG account is linked to ``page_id``; graph.facebook.com with a Page token.
    """

    account_id: str
    access_token: str = field(repr=False)
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    login: Literal["instagram", "facebook"] = "instagram"
    page_id: str | None = None

    def __post_init__(self) -> None:
        if self.login == "facebook" and not self.page_id:
            raise ValueError("Instagram with Facebook Login needs the linked page_id")


@dataclass(frozen=True)
class ViberCredentials:
    auth_token: str = field(repr=False)
    sender_name: str
    sender_avatar: str | None = None


ChannelCredentials = (
    TelegramCredentials | WhatsAppCredentials | MessengerCredentials | InstagramCredentials | ViberCredentials
)


# --------------------------------------------------------------------------------------------------
# Small shared helpers


def new_secret_token() -> str:
    """A random per-channel secret (Telegram ``secret_token``, Meta verify token): 43 URL-safe chars."""
    return secrets.token_urlsafe(32)


def secrets_equal(given: str | bytes | None, expected: str | bytes | None) -> bool:
    """Constant-time comparison; an empty expected secret never matches (misconfiguration)."""
    if not given or not expected:
        return False
    given_bytes = given.encode() if isinstance(given, str) else given
    expected_bytes = expected.encode() if isinstance(expected, str) else expected
    return hmac.compare_digest(given_bytes, expected_bytes)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def load_json(body: bytes) -> Any:
    """Parse a webhook body. Integers stay exact Python ints (Viber tokens exceed 2**53)."""
    try:
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise PayloadError(_("The request body is not valid JSON.")) from exc


def as_object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(_("%(where)s must be a JSON object.") % {"where": where})
    return value


def as_list(value: Any, where: str, *, optional: bool = True) -> list[Any]:
    if value is None and optional:
        return []
    if not isinstance(value, list):
        raise PayloadError(_("%(where)s must be a JSON array.") % {"where": where})
    return value


def as_id(value: Any, where: str) -> str:
    """A platform id as a string; ints are converted exactly, never through float."""
    if isinstance(value, bool) or value is None:
        raise PayloadError(_("%(where)s is missing or not an id.") % {"where": where})
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    raise PayloadError(_("%(where)s is missing or not an id.") % {"where": where})


def obj_or_empty(value: Any) -> Mapping[str, Any]:
    """An optional nested object: the dict itself, or an empty mapping for anything else."""
    return value if isinstance(value, dict) else {}


def optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def optional_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and is_decimal(value):
        return int(value)
    return None


def optional_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def from_timestamp(value: Any, where: str, *, millis: bool = False) -> datetime:
    """Unix seconds (or milliseconds) given as a number or a digit string, as an aware UTC datetime."""
    number: float
    if isinstance(value, bool):
        raise PayloadError(_("%(where)s is not a timestamp.") % {"where": where})
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and is_decimal(value.strip()) and len(value.strip()) <= 20:
        number = float(int(value))
    else:
        raise PayloadError(_("%(where)s is not a timestamp.") % {"where": where})
    try:
        if millis:
            number /= 1000
        return datetime.fromtimestamp(number, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise PayloadError(_("%(where)s is not a timestamp.") % {"where": where}) from exc


def retry_after_header(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    return float(value) if is_decimal(value) else None


_REDACTIONS = (
    (re.compile(r"/(file/)?bot[^/\s\"']+"), r"/\1bot<redacted>"),
    (re.compile(r"(access_token=)[^&\s\"']+"), r"\1<redacted>"),
)


def redact(text: str) -> str:
    """Remove bot tokens in Telegram API paths and ``access_token`` query values from a log line."""
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class _RedactTokensFilter(logging.Filter):
    """httpx logs every request URL at INFO; Telegram's URLs contain the bot token."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = ()
        return True


def install_log_redaction() -> None:
    for name in ("httpx", "httpcore"):
        target = logging.getLogger(name)
        if not any(isinstance(existing, _RedactTokensFilter) for existing in target.filters):
            target.addFilter(_RedactTokensFilter())


install_log_redaction()


# --------------------------------------------------------------------------------------------------
# The interface

CredentialsT = TypeVar("CredentialsT")


class ChannelAdapter(ABC, Generic[CredentialsT]):
    """One messenger platform. Subclasses implement the platform-specific parts."""

    kind: ClassVar[ChannelKind]
    capabilities: ClassVar[Capabilities]
    credentials_type: ClassVar[type[Any]]

    def __init__(self, *, client: httpx.Client, max_media_bytes: int = DEFAULT_MAX_MEDIA_BYTES) -> None:
        self.client = client
        self.max_media_bytes = max_media_bytes

    # -- inbound -------------------------------------------------------------------------------

    @abstractmethod
    def verify(self, request: WebhookRequest, credentials: CredentialsT) -> bool:
        """True when the request carries the platform's valid signature/secret for this channel."""

    def handshake(self, request: WebhookRequest, credentials: CredentialsT) -> HandshakeResponse | None:
        """The answer to a platform handshake, or None when the request is an ordinary event."""
        return None

    @abstractmethod
    def parse(self, body: bytes) -> ParsedBatch:
        """Every message, status and contact event in the body; raises ``PayloadError``."""

    def route_keys(self, body: bytes) -> tuple[str, ...]:
        """Our account ids named in a payload (Meta sends every account of an app to one URL).

        Only for finding the channel whose secret then verifies the body: never trust it before that.
        """
        return ()

    def fetch_profile(self, credentials: CredentialsT, user_id: str) -> ClientProfile | None:
        """The client's profile from the platform, or None where webhooks already carry the name;
        raises ``ChannelApiError``."""
        return None

    # -- outbound ------------------------------------------------------------------------------

    def split(self, text: str) -> list[str]:
        """The chunks ``send_text`` would send."""
        return [text[start:end] for start, end in self._spans(text)]

    def _spans(self, text: str) -> list[tuple[int, int]]:
        return split_text_spans(text, self.capabilities.text_limit, self.capabilities.text_limit_unit)

    def send_text(
        self,
        credentials: CredentialsT,
        *,
        to: str,
        text: str,
        reply_to: str | None = None,
        human_agent_tag: bool = False,
        metadata: str | None = None,
    ) -> SendResult | SendError:
        """Send ``text`` to ``to`` (an ``InboundMessage.chat_id``), split at the platform's limit.

        ``reply_to`` quotes an earlier message (first chunk only, where supported);
        ``human_agent_tag`` sends Messenger/Instagram messages with the HUMAN_AGENT tag;
        ``metadata`` is echoed back by platforms that support it (Messenger ``metadata``, Viber
        ``tracking_data``).
        """
        creds = self._check(credentials)
        spans = self._spans(text)
        if not spans:
            return SendError(False, None, "empty_text", _("The message is empty."), "invalid_request")
        sent: list[str] = []
        for index, (start, end) in enumerate(spans):
            outcome = self._send_text_chunk(
                creds,
                to=to,
                text=text[start:end],
                reply_to=reply_to if index == 0 else None,
                human_agent_tag=human_agent_tag,
                metadata=metadata,
            )
            if isinstance(outcome, SendError):
                return replace(outcome, sent_ids=tuple(sent), unsent_text=text[start:])
            sent.append(outcome)
        return SendResult(tuple(sent))

    def send_media(
        self,
        credentials: CredentialsT,
        *,
        to: str,
        media: OutboundMedia,
        caption: str | None = None,
        reply_to: str | None = None,
        human_agent_tag: bool = False,
    ) -> SendResult | SendError:
        """Send one file; a caption that does not fit the platform's caption follows as text."""
        creds = self._check(credentials)
        entry = self.capabilities.media_limits.get(media.kind)
        upload_limit = entry.max_bytes if entry is not None else self.max_media_bytes
        if media.content is not None and len(media.content) > upload_limit:
            return SendError(False, None, "too_large", _("The file is too large to send."), "too_large")
        caption = caption if caption and caption.strip() else None
        inline = caption if caption is not None and self.caption_fits(media, caption) else None
        outcome = self._send_media_item(
            creds, to=to, media=media, caption=inline, reply_to=reply_to, human_agent_tag=human_agent_tag
        )
        if isinstance(outcome, SendError):
            return outcome
        sent = [outcome]
        if caption is not None and inline is None:
            rest = self.send_text(creds, to=to, text=caption, human_agent_tag=human_agent_tag)
            if isinstance(rest, SendError):
                return replace(rest, sent_ids=(*sent, *rest.sent_ids))
            sent.extend(rest.message_ids)
        return SendResult(tuple(sent))

    def caption_fits(self, media: OutboundMedia, caption: str) -> bool:
        """Whether ``caption`` can go out as the caption of ``media`` (kind and length allow it)."""
        limit = self.capabilities.caption_limit
        return (
            limit is not None
            and self._caption_allowed(media)
            and text_measure(caption, self.capabilities.text_limit_unit) <= limit
        )

    def _caption_allowed(self, media: OutboundMedia) -> bool:
        """Whether this kind of file can carry a caption on this platform."""
        entry = self.capabilities.media_limits.get(media.kind)
        return entry is None or entry.caption

    @abstractmethod
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
        """Send one chunk that already fits the limit; the platform message id or an error."""

    @abstractmethod
    def _send_media_item(
        self,
        credentials: CredentialsT,
        *,
        to: str,
        media: OutboundMedia,
        caption: str | None,
        reply_to: str | None,
        human_agent_tag: bool,
    ) -> str | SendError:
        """Send one file with an optional caption that fits; the platform message id or an error."""

    @abstractmethod
    def fetch_media(
        self, credentials: CredentialsT, media_ref: str, *, max_bytes: int | None = None
    ) -> FetchedMedia:
        """Download an inbound attachment at once (platform links expire); raises ``ChannelApiError``."""

    # -- provisioning --------------------------------------------------------------------------

    @abstractmethod
    def connect(self, credentials: CredentialsT, *, webhook_url: str) -> ConnectResult:
        """Validate the credentials and register/subscribe the webhook; raises ``ChannelApiError``."""

    @abstractmethod
    def disconnect(self, credentials: CredentialsT) -> None:
        """Unregister the webhook/subscription; raises ``ChannelApiError``."""

    # -- helpers for subclasses ----------------------------------------------------------------

    def _check(self, credentials: Any) -> CredentialsT:
        if not isinstance(credentials, self.credentials_type):
            raise TypeError(
                f"{type(self).__name__} needs {self.credentials_type.__name__}, "
                f"got {type(credentials).__name__}"
            )
        return credentials

    def _request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> httpx.Response | SendError:
        """One HTTP call; network failures become retryable ``SendError`` values.

        The exception text is never copied into the error: it could contain the URL, and the
        Telegram URL contains the bot token.
        """
        try:
            return self.client.request(
                method, url, headers=headers, params=params, json=json_body, data=data, files=files
            )
        except httpx.TimeoutException as exc:
            return SendError(
                True,
                None,
                "timeout",
                _("The messenger did not answer in time."),
                "network",
                detail=type(exc).__name__,
            )
        except httpx.TransportError as exc:
            return SendError(
                True,
                None,
                "network",
                _("The messenger could not be reached."),
                "network",
                detail=type(exc).__name__,
            )

    def _download(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> FetchedMedia:
        limit = max_bytes if max_bytes is not None else self.max_media_bytes
        if not url.startswith("https://"):
            raise ChannelApiError(
                SendError(False, None, "bad_media_url", _("The media link is not an HTTPS URL."), "other")
            )
        too_large = SendError(
            False, None, "too_large", _("The file is larger than the allowed size."), "too_large"
        )
        try:
            with self.client.stream("GET", url, headers=headers, follow_redirects=True) as response:
                if response.status_code != 200:
                    raise ChannelApiError(download_error(response.status_code))
                declared = optional_int(response.headers.get("content-length"))
                if declared is not None and declared > limit:
                    raise ChannelApiError(too_large)
                parts: list[bytes] = []
                total = 0
                for part in response.iter_bytes():
                    total += len(part)
                    if total > limit:
                        raise ChannelApiError(too_large)
                    parts.append(part)
                content_type = response.headers.get("content-type", "").split(";")[0].strip()
                return FetchedMedia(b"".join(parts), mime_type or content_type or None, file_name)
        except httpx.TimeoutException as exc:
            raise ChannelApiError(
                SendError(True, None, "timeout", _("The messenger did not answer in time."), "network")
            ) from exc
        except httpx.TransportError as exc:
            raise ChannelApiError(
                SendError(True, None, "network", _("The messenger could not be reached."), "network")
            ) from exc


def download_error(status_code: int) -> SendError:
    """Map the HTTP status of a media download to an error."""
    if status_code == 429 or status_code >= 500:
        return SendError(
            True,
            None,
            f"http_{status_code}",
            _("The messenger could not deliver the file right now."),
            "unavailable",
        )
    if status_code in (401, 403):
        return SendError(
            False, None, f"http_{status_code}", _("The messenger refused access to the file."), "auth"
        )
    return SendError(
        False,
        None,
        f"http_{status_code}",
        _("The file is no longer available from the messenger (links expire)."),
        "other",
    )


def unexpected_response(response: httpx.Response) -> SendError:
    """A response of a shape the adapter does not know, mapped by its HTTP status."""
    if response.status_code == 429:
        return SendError(
            True,
            retry_after_header(response),
            "http_429",
            _("The messenger is throttling requests; the message will be retried."),
            "rate_limited",
        )
    if response.status_code >= 500:
        return SendError(
            True,
            retry_after_header(response),
            f"http_{response.status_code}",
            _("The messenger is temporarily unavailable."),
            "unavailable",
        )
    return SendError(
        False,
        None,
        f"http_{response.status_code}",
        _("The messenger answered with an unexpected response."),
        "other",
    )


def response_json(response: httpx.Response) -> Mapping[str, Any] | None:
    """The response body as a JSON object, or None when it is not one."""
    try:
        data = json.loads(response.content)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None
