"""Viber REST Bot API adapter (``chatapi.viber.com/pa``).

Every call carries ``X-Viber-Auth-Token``; callbacks are signed with ``X-Viber-Content-Signature``, the hex
HMAC-SHA256 of the raw body keyed with the same token. Viber answers HTTP 200 with a non-zero ``status``
on errors, so the body is always checked. ``message_token`` values exceed 2**53 and are kept as strings.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, ClassVar

import httpx
from django.utils.translation import gettext as _

from contactcenter.connectors.adapters.base import (
    DEFAULT_MAX_MEDIA_BYTES,
    MB,
    Attachment,
    Capabilities,
    ChannelAdapter,
    ChannelApiError,
    ConnectResult,
    ContactEvent,
    ContactEventKind,
    DeliveryStatus,
    FetchedMedia,
    HandshakeResponse,
    InboundMessage,
    MediaLimit,
    OutboundMedia,
    ParsedBatch,
    PayloadError,
    SendError,
    StatusUpdate,
    ViberCredentials,
    WebhookRequest,
    as_id,
    as_object,
    from_timestamp,
    load_json,
    obj_or_empty,
    optional_float,
    optional_int,
    optional_str,
    response_json,
    secrets_equal,
    unexpected_response,
)

VIBER_API_URL = "https://chatapi.viber.com/pa"
SIGNATURE_HEADER = "X-Viber-Content-Signature"
AUTH_HEADER = "X-Viber-Auth-Token"
EVENT_TYPES = ("delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started")

_RECEIPTS: dict[str, DeliveryStatus] = {"delivered": "delivered", "seen": "read", "failed": "failed"}
_SENDER_NAME_LIMIT = 28
_TRACKING_DATA_LIMIT = 4000


def viber_error(status: int | None, status_message: str | None) -> SendError:
    """Map a non-zero Viber ``status`` (codes beyond 0 and 12 are from the legacy docs, unverified)."""
    code = str(status)
    detail = status_message
    if status == 12:
        return SendError(
            True,
            None,
            code,
            _(
                "Viber allows at most 100 messages an hour to a customer who has not replied; "
                "the message will be retried."
            ),
            "rate_limited",
            detail=detail,
        )
    if status in (5, 6, 11):
        return SendError(
            False,
            None,
            code,
            _(
                "The customer cannot receive Viber messages from us "
                "(unsubscribed, unregistered or without a device)."
            ),
            "blocked",
            detail=detail,
        )
    if status == 2:
        return SendError(
            False, None, code, _("The Viber token is invalid; reconnect the channel."), "auth", detail=detail
        )
    if status in (7, 8, 9, 10):
        return SendError(
            False,
            None,
            code,
            _("The Viber bot account is blocked, suspended, missing or has no webhook."),
            "account",
            detail=detail,
        )
    if status in (1, 3, 4, 13):
        return SendError(
            False, None, code, _("Viber refused the message as invalid."), "invalid_request", detail=detail
        )
    return SendError(False, None, code, _("Viber refused the message."), "other", detail=detail)


class ViberAdapter(ChannelAdapter[ViberCredentials]):
    kind = "viber"
    credentials_type: ClassVar[type[Any]] = ViberCredentials
    capabilities = Capabilities(
        # 7000 UTF-16 units stay under the 30 KB request cap: at most 3 UTF-8 bytes per unit.
        text_limit=7000,
        text_limit_unit="utf16",
        caption_limit=120,  # picture description
        reply_window=None,
        human_agent_window=None,
        delivery_receipts=True,
        read_receipts=True,
        watermark_receipts=True,  # "seen" is sent once for all unread messages
        block_events=True,
        media_ref_ttl=timedelta(hours=1),
        send_media_by_url=True,
        send_media_upload=False,
        reply_to=False,
        # Viber fetches every file from a public link; videos and files need their size, so only
        # pictures can be sent from a link we know nothing else about.
        media_limits=MappingProxyType(
            {
                "photo": MediaLimit(1 * MB, frozenset({"image/jpeg", "image/png", "image/gif"})),
                "video": MediaLimit(26 * MB, frozenset({"video/mp4"}), caption=False),
                "document": MediaLimit(50 * MB, caption=False),
            }
        ),
        media_by_url_kinds=frozenset({"photo"}),
    )

    def __init__(
        self,
        *,
        client: httpx.Client,
        base_url: str = VIBER_API_URL,
        max_media_bytes: int = DEFAULT_MAX_MEDIA_BYTES,
    ) -> None:
        super().__init__(client=client, max_media_bytes=max_media_bytes)
        self.base_url = base_url.rstrip("/")

    # -- inbound -------------------------------------------------------------------------------

    def verify(self, request: WebhookRequest, credentials: ViberCredentials) -> bool:
        creds = self._check(credentials)
        if not creds.auth_token:
            return False
        expected = hmac.new(creds.auth_token.encode(), request.body, hashlib.sha256).hexdigest()
        given = request.headers.get(SIGNATURE_HEADER, "").strip().lower()
        return secrets_equal(given, expected)

    def handshake(self, request: WebhookRequest, credentials: ViberCredentials) -> HandshakeResponse | None:
        """Viber checks a new webhook with an ``{"event": "webhook"}`` POST that must get HTTP 200."""
        if request.method != "POST":
            return None
        try:
            data = load_json(request.body)
        except PayloadError:
            return None
        if isinstance(data, dict) and data.get("event") == "webhook":
            return HandshakeResponse(200, b"")
        return None

    def parse(self, body: bytes) -> ParsedBatch:
        data = as_object(load_json(body), "callback")
        event = optional_str(data.get("event"))
        if event is None:
            raise PayloadError(_("The Viber callback has no event."))
        at = from_timestamp(data.get("timestamp"), "timestamp", millis=True)
        stamp = int(at.timestamp() * 1000)
        if event == "message":
            message = self._message(data, at)
            return ParsedBatch(messages=(message,), dedup_ids=(message.external_id,))
        if event in ("delivered", "seen", "failed"):
            token = as_id(data.get("message_token"), "message_token")
            user_id = optional_str(data.get("user_id"))
            status = _RECEIPTS[event]
            update = StatusUpdate(
                status,
                at,
                external_id=token,
                recipient_id=user_id,
                cumulative=event == "seen",
                error=optional_str(data.get("desc")) if event == "failed" else None,
                raw=data,
            )
            return ParsedBatch(statuses=(update,), dedup_ids=(f"{token}:{status}",))
        if event == "unsubscribed":
            user_id = as_id(data.get("user_id"), "user_id")
            return ParsedBatch(
                contact_events=(ContactEvent(user_id, "blocked", at, raw=data),),
                dedup_ids=(f"unsubscribed:{user_id}:{stamp}",),
            )
        if event in ("subscribed", "conversation_started"):
            user = as_object(data.get("user"), "user")
            user_id = as_id(user.get("id"), "user.id")
            kind: ContactEventKind = "subscribed" if event == "subscribed" else "conversation_started"
            contact_event = ContactEvent(
                user_id,
                kind,
                at,
                sender_name=optional_str(user.get("name")),
                raw=data,
            )
            return ParsedBatch(contact_events=(contact_event,), dedup_ids=(f"{event}:{user_id}:{stamp}",))
        # "webhook" (the handshake), "client_status", "action" ...: nothing for the engine
        return ParsedBatch()

    def _message(self, data: Mapping[str, Any], at: datetime) -> InboundMessage:
        token = as_id(data.get("message_token"), "message_token")
        sender = as_object(data.get("sender"), "sender")
        sender_id = as_id(sender.get("id"), "sender.id")
        message = as_object(data.get("message"), "message")
        kind = optional_str(message.get("type")) or "unknown"
        text = optional_str(message.get("text"))
        attachments: tuple[Attachment, ...] = ()
        media = optional_str(message.get("media"))
        size = optional_int(message.get("size")) or optional_int(message.get("file_size"))
        if kind == "picture":
            attachments = (
                Attachment(
                    kind="photo", media_ref=media, file_name=optional_str(message.get("file_name")), size=size
                ),
            )
        elif kind == "video":
            attachments = (Attachment(kind="video", media_ref=media, size=size),)
        elif kind == "file":
            attachments = (
                Attachment(
                    kind="document",
                    media_ref=media,
                    file_name=optional_str(message.get("file_name")),
                    size=size,
                ),
            )
        elif kind == "sticker":
            sticker_id = message.get("sticker_id")
            attachments = (
                Attachment(
                    kind="sticker",
                    media_ref=media,
                    unique_id=str(sticker_id) if sticker_id is not None else None,
                ),
            )
        elif kind == "location":
            location = as_object(message.get("location"), "message.location")
            latitude = optional_float(location.get("lat"))
            longitude = optional_float(location.get("lon"))
            if latitude is None or longitude is None:
                raise PayloadError(_("The Viber location has no coordinates."))
            attachments = (
                Attachment(
                    kind="location",
                    latitude=latitude,
                    longitude=longitude,
                    title=optional_str(location.get("address")),
                ),
            )
        elif kind == "contact":
            contact = obj_or_empty(message.get("contact"))
            label = " ".join(
                part
                for part in (optional_str(contact.get("name")), optional_str(contact.get("phone_number")))
                if part
            )
            attachments = (Attachment(kind="contact", title=label or None),)
        elif kind == "url":
            text = text or media
        elif kind != "text":
            attachments = (Attachment(kind="other", title=kind),)
        return InboundMessage(
            external_id=token,
            chat_id=sender_id,
            sender_id=sender_id,
            sender_name=optional_str(sender.get("name")),
            sender_phone=None,
            text=text,
            attachments=attachments,
            sent_at=at,
            raw=data,
        )

    # -- outbound ------------------------------------------------------------------------------

    def _call(
        self, credentials: ViberCredentials, method: str, body: Mapping[str, Any]
    ) -> Mapping[str, Any] | SendError:
        response = self._request(
            "POST", f"{self.base_url}/{method}", headers={AUTH_HEADER: credentials.auth_token}, json_body=body
        )
        if isinstance(response, SendError):
            return response
        payload = response_json(response)
        if not response.is_success or payload is None:
            return unexpected_response(response)
        status = optional_int(payload.get("status"))
        if status != 0:
            return viber_error(status, optional_str(payload.get("status_message")))
        return payload

    def _envelope(self, credentials: ViberCredentials, to: str, kind: str) -> dict[str, Any]:
        sender: dict[str, str] = {"name": credentials.sender_name[:_SENDER_NAME_LIMIT]}
        if credentials.sender_avatar:
            sender["avatar"] = credentials.sender_avatar
        return {"receiver": to, "min_api_version": 1, "sender": sender, "type": kind}

    def _send(self, credentials: ViberCredentials, body: Mapping[str, Any]) -> str | SendError:
        result = self._call(credentials, "send_message", body)
        if isinstance(result, SendError):
            return result
        if result.get("message_token") is None:
            return SendError(
                False, None, "bad_response", _("Viber answered without a message token."), "other"
            )
        return as_id(result.get("message_token"), "message_token")

    def _send_text_chunk(
        self,
        credentials: ViberCredentials,
        *,
        to: str,
        text: str,
        reply_to: str | None,
        human_agent_tag: bool,
        metadata: str | None,
    ) -> str | SendError:
        body = self._envelope(credentials, to, "text")
        if metadata:
            body["tracking_data"] = metadata[:_TRACKING_DATA_LIMIT]
        body["text"] = text
        return self._send(credentials, body)

    def _send_media_item(
        self,
        credentials: ViberCredentials,
        *,
        to: str,
        media: OutboundMedia,
        caption: str | None,
        reply_to: str | None,
        human_agent_tag: bool,
    ) -> str | SendError:
        if media.url is None:
            return SendError(
                False,
                None,
                "unsupported_media",
                _("Viber can only send files given as a public link."),
                "unsupported",
            )
        if media.kind == "photo":
            body = self._envelope(credentials, to, "picture")
            body["text"] = caption or ""
            body["media"] = media.url
            return self._send(credentials, body)
        if media.size is None:
            return SendError(
                False,
                None,
                "size_unknown",
                _("Viber needs the file size to send videos and files."),
                "unsupported",
            )
        if media.kind == "video":
            body = self._envelope(credentials, to, "video")
            body.update({"media": media.url, "size": media.size})
        else:  # documents and audio go as files
            body = self._envelope(credentials, to, "file")
            body.update({"media": media.url, "size": media.size, "file_name": media.file_name or "file"})
        return self._send(credentials, body)

    def fetch_media(
        self, credentials: ViberCredentials, media_ref: str, *, max_bytes: int | None = None
    ) -> FetchedMedia:
        # Viber media links are public CDN URLs valid for about an hour; no token is sent to them.
        self._check(credentials)
        return self._download(media_ref, max_bytes=max_bytes)

    # -- provisioning --------------------------------------------------------------------------

    def connect(self, credentials: ViberCredentials, *, webhook_url: str) -> ConnectResult:
        """Check the token (``get_account_info``), then ``set_webhook``.

        Viber calls the URL with an ``{"event": "webhook"}`` POST during set_webhook, so the webhook
        view must already answer it (``handshake``).
        """
        creds = self._check(credentials)
        account = self._call(creds, "get_account_info", {})
        if isinstance(account, SendError):
            raise ChannelApiError(account)
        registered = self._call(
            creds,
            "set_webhook",
            {"url": webhook_url, "event_types": list(EVENT_TYPES), "send_name": True, "send_photo": True},
        )
        if isinstance(registered, SendError):
            raise ChannelApiError(registered)
        account_id = optional_str(account.get("id")) or ""
        return ConnectResult(
            account_id=account_id,
            account_name=optional_str(account.get("name")) or account_id,
            webhook_url=webhook_url,
        )

    def disconnect(self, credentials: ViberCredentials) -> None:
        """An empty ``url`` removes the webhook."""
        creds = self._check(credentials)
        result = self._call(creds, "set_webhook", {"url": ""})
        if isinstance(result, SendError):
            raise ChannelApiError(result)


__all__ = ["AUTH_HEADER", "EVENT_TYPES", "SIGNATURE_HEADER", "VIBER_API_URL", "ViberAdapter", "viber_error"]
