"""Telegram Bot API adapter (plain JSON over HTTPS, no bot framework).

Authenticity is the per-channel ``secret_token`` Telegram echoes in ``X-Telegram-Bot-Api-Secret-Token``;
the bot token appears only in Telegram's own API paths (``/bot<token>/method``), never in our webhook URL.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import httpx
from django.utils.translation import gettext as _

from contactcenter.connectors.adapters.base import (
    MB,
    Attachment,
    Capabilities,
    ChannelAdapter,
    ChannelApiError,
    ConnectResult,
    ContactEvent,
    FetchedMedia,
    HandshakeResponse,
    InboundMessage,
    MediaLimit,
    OutboundMedia,
    ParsedBatch,
    PayloadError,
    SendError,
    TelegramCredentials,
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
    secrets_equal,
    unexpected_response,
)
from contactcenter.numbers import is_decimal

TELEGRAM_API_URL = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 -- a header name, not a secret
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "my_chat_member")

_SECRET_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_BOT_TOKEN_RE = re.compile(r"^[0-9]+:[A-Za-z0-9_-]+$")
_CHAT_ID_RE = re.compile(r"^-?[0-9]+$")

_MEDIA_METHODS: dict[str, tuple[str, str]] = {
    "photo": ("sendPhoto", "photo"),
    "document": ("sendDocument", "document"),
    "audio": ("sendAudio", "audio"),
    "video": ("sendVideo", "video"),
}


def _full_name(user: Mapping[str, Any]) -> str | None:
    parts = [optional_str(user.get("first_name")), optional_str(user.get("last_name"))]
    name = " ".join(part for part in parts if part)
    return name or optional_str(user.get("username"))


def _chat_id_value(to: str) -> int | str:
    """Numeric chat ids go out as JSON numbers (as Telegram documents them), ``@channel`` names as text."""
    return int(to) if _CHAT_ID_RE.match(to) else to


def _reply_message_id(reply_to: str | None) -> int | None:
    """Our Telegram message ids are ``<chat_id>:<message_id>``; Telegram wants the message part."""
    if not reply_to:
        return None
    tail = reply_to.rsplit(":", 1)[-1]
    return int(tail) if is_decimal(tail) else None


def telegram_error(response: httpx.Response) -> SendError:
    """Map a Bot API error (``{"ok": false, "error_code", "description", "parameters"}``)."""
    data = response_json(response)
    if data is None or data.get("ok") is not False:
        return unexpected_response(response)
    code = optional_int(data.get("error_code")) or response.status_code
    description = optional_str(data.get("description"))
    parameters = obj_or_empty(data.get("parameters"))
    retry_after = optional_float(parameters.get("retry_after"))
    if code == 429:
        return SendError(
            True,
            retry_after,
            "429",
            _("Telegram limits how fast the bot may send; the message will be retried."),
            "rate_limited",
            detail=description,
        )
    if code == 403:
        return SendError(
            False,
            None,
            "403",
            _("The customer blocked the bot or deleted their Telegram account; the message was not sent."),
            "blocked",
            detail=description,
        )
    if code in (401, 404):
        return SendError(
            False,
            None,
            str(code),
            _("The Telegram bot token is invalid or was revoked; reconnect the channel."),
            "auth",
            detail=description,
        )
    if code == 400 and parameters.get("migrate_to_chat_id") is not None:
        return SendError(
            False,
            None,
            "400",
            _("The Telegram group was upgraded to a supergroup and has a new id."),
            "invalid_request",
            detail=description,
        )
    if code == 400:
        return SendError(
            False,
            None,
            "400",
            _("Telegram refused the message as invalid."),
            "invalid_request",
            detail=description,
        )
    if code >= 500:
        return SendError(
            True,
            retry_after,
            str(code),
            _("Telegram is temporarily unavailable; the message will be retried."),
            "unavailable",
            detail=description,
        )
    return SendError(False, None, str(code), _("Telegram refused the request."), "other", detail=description)


class TelegramAdapter(ChannelAdapter[TelegramCredentials]):
    kind = "telegram"
    credentials_type: ClassVar[type[Any]] = TelegramCredentials
    capabilities = Capabilities(
        # "1-4096 characters after entities parsing"; counted in UTF-16 code units to be safe either way.
        text_limit=4096,
        text_limit_unit="utf16",
        caption_limit=1024,
        reply_window=None,
        human_agent_window=None,
        delivery_receipts=False,
        read_receipts=False,
        watermark_receipts=False,
        block_events=True,
        media_ref_ttl=None,  # a file_id stays valid; getFile links last at least an hour
        send_media_by_url=True,
        send_media_upload=True,
        reply_to=True,
        # Bot API uploads: 50 MB per file, photos 10 MB (a larger image goes as a document).
        media_limits=MappingProxyType(
            {
                "photo": MediaLimit(10 * MB, frozenset({"image/jpeg", "image/png", "image/webp"})),
                "video": MediaLimit(50 * MB, frozenset({"video/mp4"})),
                "audio": MediaLimit(50 * MB, frozenset({"audio/mpeg", "audio/mp4", "audio/x-m4a"})),
                "document": MediaLimit(50 * MB),
            }
        ),
    )

    def __init__(
        self,
        *,
        client: httpx.Client,
        base_url: str = TELEGRAM_API_URL,
        max_media_bytes: int = 20 * 1024 * 1024,  # bots cannot download larger files through getFile
    ) -> None:
        super().__init__(client=client, max_media_bytes=max_media_bytes)
        self.base_url = base_url.rstrip("/")

    # -- inbound -------------------------------------------------------------------------------

    def verify(self, request: WebhookRequest, credentials: TelegramCredentials) -> bool:
        creds = self._check(credentials)
        return secrets_equal(request.headers.get(SECRET_HEADER), creds.secret_token)

    def handshake(
        self, request: WebhookRequest, credentials: TelegramCredentials
    ) -> HandshakeResponse | None:
        return None  # Telegram has no handshake: setWebhook is an API call we make.

    def parse(self, body: bytes) -> ParsedBatch:
        update = as_object(load_json(body), "update")
        update_id = update.get("update_id")
        if isinstance(update_id, bool) or not isinstance(update_id, int):
            raise PayloadError(_("The Telegram update has no update_id."))
        dedup = (str(update_id),)
        if "message" in update:
            message = self._message(as_object(update["message"], "message"), edited=False)
            return ParsedBatch(messages=(message,), dedup_ids=dedup)
        if "edited_message" in update:
            message = self._message(as_object(update["edited_message"], "edited_message"), edited=True)
            return ParsedBatch(messages=(message,), dedup_ids=dedup)
        if "my_chat_member" in update:
            event = self._member_event(as_object(update["my_chat_member"], "my_chat_member"))
            return ParsedBatch(contact_events=(event,) if event else (), dedup_ids=dedup)
        # Other update kinds (callback_query, channel_post, business_* ...) carry nothing for a chat.
        return ParsedBatch(dedup_ids=dedup)

    def _message(self, message: Mapping[str, Any], *, edited: bool) -> InboundMessage:
        chat = as_object(message.get("chat"), "message.chat")
        chat_id = as_id(chat.get("id"), "message.chat.id")
        message_id = as_id(message.get("message_id"), "message.message_id")
        sender = message.get("from")
        if isinstance(sender, dict):
            sender_id = as_id(sender.get("id"), "message.from.id")
            sender_name = _full_name(sender)
        else:
            sender_id = chat_id
            sender_name = _full_name(chat) or optional_str(chat.get("title"))
        replied = message.get("reply_to_message")
        reply_to = None
        if isinstance(replied, dict) and replied.get("message_id") is not None:
            reply_to = f"{chat_id}:{as_id(replied.get('message_id'), 'reply_to_message.message_id')}"
        text = optional_str(message.get("text")) or optional_str(message.get("caption"))
        # A client who shares their own contact card gives us their phone number.
        contact = message.get("contact")
        sender_phone = None
        if isinstance(contact, dict) and str(contact.get("user_id")) == sender_id:
            sender_phone = optional_str(contact.get("phone_number"))
        return InboundMessage(
            external_id=f"{chat_id}:{message_id}",
            chat_id=chat_id,
            sender_id=sender_id,
            sender_name=sender_name,
            sender_phone=sender_phone,
            text=text,
            attachments=self._attachments(message),
            sent_at=from_timestamp(message.get("date"), "message.date"),
            reply_to=reply_to,
            raw=message,
            edited=edited,
        )

    def _attachments(self, message: Mapping[str, Any]) -> tuple[Attachment, ...]:
        found: list[Attachment] = []
        photos = as_list(message.get("photo"), "message.photo")
        if photos:
            largest = as_object(photos[-1], "message.photo[]")  # sizes come smallest first
            found.append(self._file("photo", largest, mime_type="image/jpeg"))
        for key, kind in (
            ("animation", "video"),
            ("video", "video"),
            ("video_note", "video"),
            ("audio", "audio"),
            ("voice", "audio"),
        ):
            if isinstance(message.get(key), dict):
                default_mime = "video/mp4" if key == "video_note" else None
                found.append(self._file(kind, message[key], mime_type=default_mime))
        # An animation message also carries a ``document`` copy of the same file, for old clients.
        if isinstance(message.get("document"), dict) and "animation" not in message:
            found.append(self._file("document", message["document"]))
        sticker = message.get("sticker")
        if isinstance(sticker, dict):
            if sticker.get("is_animated"):
                mime = "application/x-tgsticker"
            elif sticker.get("is_video"):
                mime = "video/webm"
            else:
                mime = "image/webp"
            found.append(
                Attachment(
                    kind="sticker",
                    media_ref=as_id(sticker.get("file_id"), "sticker.file_id"),
                    mime_type=mime,
                    size=optional_int(sticker.get("file_size")),
                    unique_id=optional_str(sticker.get("file_unique_id")),
                    title=optional_str(sticker.get("emoji")),
                )
            )
        location = message.get("location")
        if isinstance(location, dict):
            venue = obj_or_empty(message.get("venue"))
            latitude = optional_float(location.get("latitude"))
            longitude = optional_float(location.get("longitude"))
            if latitude is None or longitude is None:
                raise PayloadError(_("The Telegram location has no coordinates."))
            found.append(
                Attachment(
                    kind="location",
                    latitude=latitude,
                    longitude=longitude,
                    title=optional_str(venue.get("title")),
                )
            )
        contact = message.get("contact")
        if isinstance(contact, dict):
            name = _full_name(contact)
            phone = optional_str(contact.get("phone_number"))
            found.append(
                Attachment(kind="contact", title=" ".join(part for part in (name, phone) if part) or None)
            )
        return tuple(found)

    @staticmethod
    def _file(kind: Any, data: Mapping[str, Any], *, mime_type: str | None = None) -> Attachment:
        return Attachment(
            kind=kind,
            media_ref=as_id(data.get("file_id"), f"{kind}.file_id"),
            file_name=optional_str(data.get("file_name")),
            mime_type=optional_str(data.get("mime_type")) or mime_type,
            size=optional_int(data.get("file_size")),
            unique_id=optional_str(data.get("file_unique_id")),
        )

    def _member_event(self, update: Mapping[str, Any]) -> ContactEvent | None:
        """Private chats only: Telegram sends this "only when the bot is blocked or unblocked"."""
        chat = as_object(update.get("chat"), "my_chat_member.chat")
        if chat.get("type") != "private":
            return None
        new = as_object(update.get("new_chat_member"), "my_chat_member.new_chat_member")
        old = obj_or_empty(update.get("old_chat_member"))
        user_id = as_id(chat.get("id"), "my_chat_member.chat.id")
        at = from_timestamp(update.get("date"), "my_chat_member.date")
        name = _full_name(chat)
        if new.get("status") == "kicked":
            return ContactEvent(user_id, "blocked", at, sender_name=name, raw=update)
        if old.get("status") == "kicked" and new.get("status") == "member":
            return ContactEvent(user_id, "unblocked", at, sender_name=name, raw=update)
        return None

    # -- outbound ------------------------------------------------------------------------------

    def _method_url(self, credentials: TelegramCredentials, method: str) -> str:
        if not _BOT_TOKEN_RE.match(credentials.bot_token):
            raise ChannelApiError(
                SendError(
                    False,
                    None,
                    "bad_token",
                    _("The Telegram bot token has an invalid format."),
                    "auth",
                )
            )
        return f"{self.base_url}/bot{credentials.bot_token}/{method}"

    def _call(
        self,
        credentials: TelegramCredentials,
        method: str,
        *,
        json_body: Any = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> Any | SendError:
        """Call a Bot API method; the ``result`` on success."""
        try:
            url = self._method_url(credentials, method)
        except ChannelApiError as exc:
            return exc.error
        response = self._request("POST", url, json_body=json_body, data=data, files=files)
        if isinstance(response, SendError):
            return response
        payload = response_json(response)
        if response.is_success and payload is not None and payload.get("ok") is True:
            return payload.get("result")
        return telegram_error(response)

    @staticmethod
    def _sent_id(result: Any, to: str) -> str | SendError:
        if not isinstance(result, dict) or result.get("message_id") is None:
            return SendError(
                False, None, "bad_response", _("Telegram answered without a message id."), "other"
            )
        chat = obj_or_empty(result.get("chat"))
        chat_id = chat.get("id", to)
        return f"{chat_id}:{result['message_id']}"

    def _send_text_chunk(
        self,
        credentials: TelegramCredentials,
        *,
        to: str,
        text: str,
        reply_to: str | None,
        human_agent_tag: bool,
        metadata: str | None,
    ) -> str | SendError:
        # Plain agent text is escaped and sent as HTML: no accidental formatting, and a later
        # markdown-to-HTML conversion can reuse the same parse mode.
        body: dict[str, Any] = {
            "chat_id": _chat_id_value(to),
            "text": html.escape(text, quote=False),
            "parse_mode": "HTML",
        }
        message_id = _reply_message_id(reply_to)
        if message_id is not None:
            body["reply_parameters"] = {"message_id": message_id}
        result = self._call(credentials, "sendMessage", json_body=body)
        if isinstance(result, SendError):
            return result
        return self._sent_id(result, to)

    def _send_media_item(
        self,
        credentials: TelegramCredentials,
        *,
        to: str,
        media: OutboundMedia,
        caption: str | None,
        reply_to: str | None,
        human_agent_tag: bool,
    ) -> str | SendError:
        method, field_name = _MEDIA_METHODS[media.kind]
        fields: dict[str, Any] = {"chat_id": _chat_id_value(to)}
        if caption:
            fields["caption"] = html.escape(caption, quote=False)
            fields["parse_mode"] = "HTML"
        message_id = _reply_message_id(reply_to)
        if message_id is not None:
            fields["reply_parameters"] = {"message_id": message_id}
        if media.url is not None:
            result = self._call(credentials, method, json_body={**fields, field_name: media.url})
        else:
            form = {
                key: value if isinstance(value, str) else json.dumps(value) for key, value in fields.items()
            }
            upload = (
                media.file_name or "file",
                media.content or b"",
                media.mime_type or "application/octet-stream",
            )
            result = self._call(credentials, method, data=form, files={field_name: upload})
        if isinstance(result, SendError):
            return result
        return self._sent_id(result, to)

    def fetch_media(
        self, credentials: TelegramCredentials, media_ref: str, *, max_bytes: int | None = None
    ) -> FetchedMedia:
        creds = self._check(credentials)
        result = self._call(creds, "getFile", json_body={"file_id": media_ref})
        if isinstance(result, SendError):
            raise ChannelApiError(result)
        file_path = result.get("file_path") if isinstance(result, dict) else None
        if not isinstance(file_path, str) or not file_path or ".." in file_path:
            raise ChannelApiError(
                SendError(False, None, "no_file_path", _("Telegram cannot provide this file."), "too_large")
            )
        url = f"{self.base_url}/file/bot{creds.bot_token}/{file_path}"
        return self._download(url, max_bytes=max_bytes, file_name=file_path.rsplit("/", 1)[-1])

    # -- provisioning --------------------------------------------------------------------------

    def connect(self, credentials: TelegramCredentials, *, webhook_url: str) -> ConnectResult:
        """Validate the token with ``getMe`` and register the webhook with our per-channel secret."""
        creds = self._check(credentials)
        if not _SECRET_TOKEN_RE.match(creds.secret_token):
            raise ChannelApiError(
                SendError(
                    False,
                    None,
                    "bad_secret",
                    _("The webhook secret must be 1-256 characters of A-Z, a-z, 0-9, _ and -."),
                    "invalid_request",
                )
            )
        if not webhook_url.startswith("https://"):
            raise ChannelApiError(
                SendError(
                    False, None, "bad_url", _("Telegram needs an HTTPS webhook URL."), "invalid_request"
                )
            )
        if creds.bot_token in webhook_url or creds.bot_token.split(":")[-1] in webhook_url:
            raise ChannelApiError(
                SendError(
                    False,
                    None,
                    "token_in_url",
                    _("The webhook URL must not contain the bot token."),
                    "invalid_request",
                )
            )
        me = self._call(creds, "getMe")
        if isinstance(me, SendError):
            raise ChannelApiError(me)
        if not isinstance(me, dict) or me.get("is_bot") is not True or me.get("id") is None:
            raise ChannelApiError(
                SendError(False, None, "not_a_bot", _("This token does not belong to a bot."), "auth")
            )
        registered = self._call(
            creds,
            "setWebhook",
            json_body={
                "url": webhook_url,
                "secret_token": creds.secret_token,
                "max_connections": 40,
                "allowed_updates": list(ALLOWED_UPDATES),
                "drop_pending_updates": False,
            },
        )
        if isinstance(registered, SendError):
            raise ChannelApiError(registered)
        username = optional_str(me.get("username"))
        return ConnectResult(
            account_id=str(me["id"]),
            account_name=f"@{username}" if username else (_full_name(me) or str(me["id"])),
            webhook_url=webhook_url,
        )

    def disconnect(self, credentials: TelegramCredentials) -> None:
        creds = self._check(credentials)
        result = self._call(creds, "deleteWebhook", json_body={"drop_pending_updates": False})
        if isinstance(result, SendError):
            raise ChannelApiError(result)


__all__ = ["ALLOWED_UPDATES", "SECRET_HEADER", "TELEGRAM_API_URL", "TelegramAdapter", "telegram_error"]
