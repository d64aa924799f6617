"""WhatsApp Cloud API adapter (Graph API, ``object: whatsapp_business_account``).

Identity: ``sender_id`` is the business-scoped user id (``contacts[].user_id``, "BSUID") when Meta sends
it, otherwise the phone number ``wa_id``; ``sender_phone`` is the ``wa_id`` when known (and then also
``sender_alias`` when the BSUID is the sender id); ``chat_id`` (where replies go) is the phone number when
known, else the BSUID.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from types import MappingProxyType
from typing import Any, ClassVar

from django.utils.translation import gettext as _

from contactcenter.connectors.adapters.base import (
    MB,
    Attachment,
    AttachmentKind,
    Capabilities,
    ChannelApiError,
    ConnectResult,
    DeliveryStatus,
    FetchedMedia,
    InboundMessage,
    MediaLimit,
    OutboundMedia,
    ParsedBatch,
    PayloadError,
    SendError,
    StatusUpdate,
    WhatsAppCredentials,
    as_id,
    as_list,
    as_object,
    from_timestamp,
    load_json,
    obj_or_empty,
    optional_float,
    optional_int,
    optional_str,
)
from contactcenter.connectors.adapters.meta import BatchBuilder, MetaAdapter

_MEDIA_TYPES: dict[str, AttachmentKind] = {
    "image": "photo",
    "video": "video",
    "audio": "audio",
    "document": "document",
    "sticker": "sticker",
}
_OUTBOUND_TYPES = {"photo": "image", "video": "video", "audio": "audio", "document": "document"}
_STATUSES: dict[str, DeliveryStatus] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "read",  # a voice message was listened to: it was certainly read
    "failed": "failed",
}


def _contact_for(message: Mapping[str, Any], contacts: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    sender = optional_str(message.get("from"))
    sender_user = optional_str(message.get("from_user_id"))
    for contact in contacts:
        if sender and contact.get("wa_id") == sender:
            return contact
        if sender_user and contact.get("user_id") == sender_user:
            return contact
    return contacts[0] if len(contacts) == 1 else {}


def _error_text(errors: Any) -> tuple[str | None, str | None]:
    """``(text, code)`` of the first error of a status or notice."""
    for raw in errors if isinstance(errors, list) else []:
        if isinstance(raw, dict):
            code = optional_int(raw.get("code"))
            title = optional_str(raw.get("title")) or optional_str(raw.get("message")) or ""
            data = obj_or_empty(raw.get("error_data"))
            details = optional_str(data.get("details"))
            text = f"{code}: {title}" if code is not None else title
            if details:
                text = f"{text} ({details})"
            return text, str(code) if code is not None else None
    return None, None


WHATSAPP_DOCUMENT_TYPES = frozenset(
    {
        "text/plain",
        "application/pdf",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)


class WhatsAppAdapter(MetaAdapter[WhatsAppCredentials]):
    kind = "whatsapp"
    credentials_type: ClassVar[type[Any]] = WhatsAppCredentials
    capabilities = Capabilities(
        text_limit=4096,
        text_limit_unit="utf16",
        caption_limit=1024,
        reply_window=timedelta(hours=24),
        human_agent_window=None,  # after 24 h only approved templates
        delivery_receipts=True,
        read_receipts=True,
        watermark_receipts=False,
        block_events=False,
        media_ref_ttl=timedelta(days=7),  # the download URL itself lives 5 minutes
        send_media_by_url=True,
        send_media_upload=True,
        reply_to=True,
        # Cloud API supported media (uploaded to /<phone number id>/media, then sent by id).
        media_limits=MappingProxyType(
            {
                "photo": MediaLimit(5 * MB, frozenset({"image/jpeg", "image/png"})),
                "video": MediaLimit(16 * MB, frozenset({"video/mp4", "video/3gpp"})),
                "audio": MediaLimit(
                    16 * MB,
                    frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}),
                    caption=False,  # audio messages take no caption; the text follows as a message
                ),
                "document": MediaLimit(100 * MB, WHATSAPP_DOCUMENT_TYPES),
            }
        ),
    )

    def _app_secret(self, credentials: WhatsAppCredentials) -> str:
        return credentials.app_secret

    def _verify_token(self, credentials: WhatsAppCredentials) -> str:
        return credentials.verify_token

    # -- inbound -------------------------------------------------------------------------------

    def parse(self, body: bytes) -> ParsedBatch:
        data = as_object(load_json(body), "payload")
        if data.get("object") != "whatsapp_business_account":
            raise PayloadError(
                _("The payload object is not %(expected)s.") % {"expected": "whatsapp_business_account"}
            )
        out = BatchBuilder()
        for raw_entry in as_list(data.get("entry"), "entry", optional=False):
            entry = as_object(raw_entry, "entry[]")
            for raw_change in as_list(entry.get("changes"), "entry.changes"):
                change = as_object(raw_change, "entry.changes[]")
                if change.get("field") != "messages":
                    continue  # account, template and quality updates are not conversation events
                self._parse_value(as_object(change.get("value"), "changes.value"), out)
        return out.build()

    def _parse_value(self, value: Mapping[str, Any], out: BatchBuilder) -> None:
        metadata = obj_or_empty(value.get("metadata"))
        account_id = (
            as_id(metadata["phone_number_id"], "metadata.phone_number_id")
            if metadata.get("phone_number_id") is not None
            else None
        )
        contacts = [as_object(item, "contacts[]") for item in as_list(value.get("contacts"), "contacts")]
        for raw in as_list(value.get("messages"), "messages"):
            message = self._message(as_object(raw, "messages[]"), contacts, account_id)
            if message is not None:
                out.messages.append(message)
                out.dedup.append(message.external_id)
        for raw in as_list(value.get("statuses"), "statuses"):
            status = self._status(as_object(raw, "statuses[]"), account_id)
            if status is not None:
                out.statuses.append(status)
                out.dedup.append(f"{status.external_id}:{status.status}")
        text, _code = _error_text(value.get("errors"))
        if text:
            out.errors.append(text)

    def _message(
        self, message: Mapping[str, Any], contacts: list[Mapping[str, Any]], account_id: str | None
    ) -> InboundMessage | None:
        message_id = as_id(message.get("id"), "messages.id")
        kind = optional_str(message.get("type")) or "unknown"
        if kind == "reaction":
            return None  # an emoji on an earlier message, not a new message
        contact = _contact_for(message, contacts)
        phone = optional_str(message.get("from")) or optional_str(contact.get("wa_id"))
        user_id = optional_str(contact.get("user_id")) or optional_str(message.get("from_user_id"))
        sender_id = user_id or phone
        if sender_id is None:
            raise PayloadError(_("The WhatsApp message has no sender."))
        profile = obj_or_empty(contact.get("profile"))
        context = obj_or_empty(message.get("context"))
        text, attachments = self._content(kind, message)
        return InboundMessage(
            external_id=message_id,
            chat_id=phone or sender_id,
            sender_id=sender_id,
            sender_name=optional_str(profile.get("name")) or optional_str(profile.get("username")),
            sender_phone=phone,
            text=text,
            attachments=attachments,
            sent_at=from_timestamp(message.get("timestamp"), "messages.timestamp"),
            reply_to=optional_str(context.get("id")),
            raw=message,
            account_id=account_id,
            sender_alias=phone if user_id and phone and phone != user_id else None,
        )

    @staticmethod
    def _content(kind: str, message: Mapping[str, Any]) -> tuple[str | None, tuple[Attachment, ...]]:
        body = obj_or_empty(message.get(kind))
        if kind == "text":
            return optional_str(body.get("body")), ()
        if kind in _MEDIA_TYPES:
            media_id = as_id(body.get("id"), f"{kind}.id")
            attachment = Attachment(
                kind=_MEDIA_TYPES[kind],
                media_ref=media_id,
                file_name=optional_str(body.get("filename")),
                mime_type=optional_str(body.get("mime_type")),
                unique_id=optional_str(body.get("sha256")),
            )
            return optional_str(body.get("caption")), (attachment,)
        if kind == "location":
            latitude = optional_float(body.get("latitude"))
            longitude = optional_float(body.get("longitude"))
            if latitude is None or longitude is None:
                raise PayloadError(_("The WhatsApp location has no coordinates."))
            title = ", ".join(
                part for part in (optional_str(body.get("name")), optional_str(body.get("address"))) if part
            )
            return None, (
                Attachment(kind="location", latitude=latitude, longitude=longitude, title=title or None),
            )
        if kind == "contacts":
            cards = []
            for raw in as_list(message.get("contacts"), "contacts"):
                card = obj_or_empty(raw)
                name = obj_or_empty(card.get("name"))
                phones = [
                    optional_str(phone.get("phone"))
                    for phone in as_list(card.get("phones"), "contacts.phones")
                    if isinstance(phone, dict)
                ]
                label = " ".join(
                    part for part in (optional_str(name.get("formatted_name")), *phones[:1]) if part
                )
                cards.append(Attachment(kind="contact", title=label or None))
            return None, tuple(cards)
        if kind == "interactive":
            for key in ("button_reply", "list_reply"):
                reply = body.get(key)
                if isinstance(reply, dict):
                    return optional_str(reply.get("title")), ()
            return None, (Attachment(kind="other", title=kind),)
        if kind == "button":
            return optional_str(body.get("text")) or optional_str(body.get("payload")), ()
        # system, order, unsupported, unknown ...: the engine shows "unsupported content"
        return None, (Attachment(kind="other", title=kind),)

    def _status(self, status: Mapping[str, Any], account_id: str | None) -> StatusUpdate | None:
        name = _STATUSES.get(optional_str(status.get("status")) or "")
        if name is None:
            return None
        error, error_code = _error_text(status.get("errors"))
        return StatusUpdate(
            name,
            from_timestamp(status.get("timestamp"), "statuses.timestamp"),
            external_id=as_id(status.get("id"), "statuses.id"),
            recipient_id=optional_str(status.get("recipient_id"))
            or optional_str(status.get("recipient_user_id")),
            error=error,
            error_code=error_code,
            account_id=account_id,
            raw=status,
        )

    def route_keys(self, body: bytes) -> tuple[str, ...]:
        try:
            data = load_json(body)
        except PayloadError:
            return ()
        keys: list[str] = []
        entries = obj_or_empty(data).get("entry")
        for entry in entries if isinstance(entries, list) else []:
            changes = obj_or_empty(entry).get("changes")
            for change in changes if isinstance(changes, list) else []:
                metadata = obj_or_empty(obj_or_empty(obj_or_empty(change).get("value")).get("metadata"))
                if isinstance(metadata.get("phone_number_id"), int | str):
                    keys.append(str(metadata["phone_number_id"]))
        return tuple(dict.fromkeys(keys))

    # -- outbound ------------------------------------------------------------------------------

    def _messages_url(self, credentials: WhatsAppCredentials) -> str:
        return self._graph_endpoint(credentials.phone_number_id, "messages")

    def _post_message(self, credentials: WhatsAppCredentials, body: dict[str, Any]) -> str | SendError:
        try:
            url = self._messages_url(credentials)
        except ChannelApiError as exc:
            return exc.error
        result = self._graph("POST", url, credentials.access_token, json_body=body)
        if isinstance(result, SendError):
            return result
        messages = result.get("messages")
        first = messages[0] if isinstance(messages, list) and messages else None
        message_id = first.get("id") if isinstance(first, dict) else None
        if not isinstance(message_id, str) or not message_id:
            return SendError(
                False, None, "bad_response", _("WhatsApp answered without a message id."), "other"
            )
        return message_id

    @staticmethod
    def _envelope(to: str, kind: str, reply_to: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": kind,
        }
        if reply_to:
            body["context"] = {"message_id": reply_to}
        return body

    def _send_text_chunk(
        self,
        credentials: WhatsAppCredentials,
        *,
        to: str,
        text: str,
        reply_to: str | None,
        human_agent_tag: bool,
        metadata: str | None,
    ) -> str | SendError:
        body = self._envelope(to, "text", reply_to)
        body["text"] = {"preview_url": False, "body": text}
        return self._post_message(credentials, body)

    def _send_media_item(
        self,
        credentials: WhatsAppCredentials,
        *,
        to: str,
        media: OutboundMedia,
        caption: str | None,
        reply_to: str | None,
        human_agent_tag: bool,
    ) -> str | SendError:
        kind = _OUTBOUND_TYPES[media.kind]
        content: dict[str, Any]
        if media.url is not None:
            content = {"link": media.url}
        else:
            uploaded = self._upload(credentials, media)
            if isinstance(uploaded, SendError):
                return uploaded
            content = {"id": uploaded}
        if caption:
            content["caption"] = caption
        if kind == "document" and media.file_name:
            content["filename"] = media.file_name
        body = self._envelope(to, kind, reply_to)
        body[kind] = content
        return self._post_message(credentials, body)

    def _upload(self, credentials: WhatsAppCredentials, media: OutboundMedia) -> str | SendError:
        mime_type = media.mime_type or "application/octet-stream"
        try:
            url = self._graph_endpoint(credentials.phone_number_id, "media")
        except ChannelApiError as exc:
            return exc.error
        result = self._graph(
            "POST",
            url,
            credentials.access_token,
            data={"messaging_product": "whatsapp", "type": mime_type},
            files={"file": (media.file_name or "file", media.content or b"", mime_type)},
        )
        if isinstance(result, SendError):
            return result
        media_id = result.get("id")
        if not isinstance(media_id, str) or not media_id:
            return SendError(False, None, "bad_response", _("WhatsApp answered without a media id."), "other")
        return media_id

    def fetch_media(
        self, credentials: WhatsAppCredentials, media_ref: str, *, max_bytes: int | None = None
    ) -> FetchedMedia:
        """``GET /<media id>`` gives a URL valid for 5 minutes; it is fetched with the same token."""
        creds = self._check(credentials)
        info = self._graph_or_raise("GET", self._graph_endpoint(media_ref), creds.access_token)
        url = optional_str(info.get("url"))
        if url is None:
            raise ChannelApiError(
                SendError(False, None, "no_media_url", _("WhatsApp did not give a download link."), "other")
            )
        limit = max_bytes if max_bytes is not None else self.max_media_bytes
        declared = optional_int(info.get("file_size"))
        if declared is not None and declared > limit:
            raise ChannelApiError(
                SendError(
                    False, None, "too_large", _("The file is larger than the allowed size."), "too_large"
                )
            )
        return self._download(
            url,
            headers={"Authorization": f"Bearer {creds.access_token}"},
            max_bytes=limit,
            mime_type=optional_str(info.get("mime_type")),
        )

    # -- provisioning --------------------------------------------------------------------------

    def connect(
        self, credentials: WhatsAppCredentials, *, webhook_url: str, override_callback: bool = False
    ) -> ConnectResult:
        """Check the phone number id and token, then subscribe our app to the WhatsApp Business Account.

        The callback URL and verify token are shown to the admin for the App Dashboard; with
        ``override_callback`` they are set for this WABA only (``override_callback_uri``), and Meta
        verifies the URL at once, so the webhook view must already answer.
        """
        creds = self._check(credentials)
        number = self._graph_or_raise(
            "GET",
            self._graph_endpoint(creds.phone_number_id),
            creds.access_token,
            params={"fields": "display_phone_number,verified_name"},
        )
        body: dict[str, str] | None = None
        if override_callback:
            body = {"override_callback_uri": webhook_url, "verify_token": creds.verify_token}
        self._graph_or_raise(
            "POST",
            self._graph_endpoint(creds.business_account_id, "subscribed_apps"),
            creds.access_token,
            json_body=body,
        )
        name = optional_str(number.get("verified_name")) or optional_str(number.get("display_phone_number"))
        return ConnectResult(
            account_id=creds.phone_number_id,
            account_name=name or creds.phone_number_id,
            webhook_url=webhook_url,
            verify_token=creds.verify_token,
            admin_steps=()
            if override_callback
            else (
                _(
                    "In the Meta App Dashboard, open WhatsApp > Configuration and enter this callback URL "
                    "and verify token, then subscribe to the messages field."
                ),
            ),
        )

    def disconnect(self, credentials: WhatsAppCredentials) -> None:
        creds = self._check(credentials)
        self._graph_or_raise(
            "DELETE", self._graph_endpoint(creds.business_account_id, "subscribed_apps"), creds.access_token
        )


__all__ = ["WhatsAppAdapter"]
