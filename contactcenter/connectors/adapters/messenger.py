"""Facebook Messenger adapter (Messenger Platform Send API and page webhooks, ``object: page``)."""

from __future__ import annotations

import json
from datetime import timedelta
from types import MappingProxyType
from typing import Any, ClassVar

from django.utils.translation import gettext as _

from contactcenter.connectors.adapters.base import (
    MB,
    Capabilities,
    ChannelApiError,
    ClientProfile,
    ConnectResult,
    MediaLimit,
    MessengerCredentials,
    OutboundMedia,
    SendError,
    optional_str,
)
from contactcenter.connectors.adapters.meta import PageMessagingAdapter

# What the page subscription asks for; message_echoes lets the engine see (and skip) our own messages.
SUBSCRIBED_FIELDS = (
    "messages",
    "message_deliveries",
    "message_reads",
    "message_echoes",
    "messaging_postbacks",
)
_ATTACHMENT_TYPES = {"photo": "image", "video": "video", "audio": "audio", "document": "file"}


class MessengerAdapter(PageMessagingAdapter[MessengerCredentials]):
    kind = "messenger"
    credentials_type: ClassVar[type[Any]] = MessengerCredentials
    expected_object = "page"
    always_messaging_type = True
    supports_metadata = True
    capabilities = Capabilities(
        text_limit=2000,  # commonly cited, not confirmed from Meta's own page (see docs/connectors.md)
        text_limit_unit="utf16",
        caption_limit=None,
        reply_window=timedelta(hours=24),
        human_agent_window=timedelta(days=7),
        delivery_receipts=True,
        read_receipts=True,
        watermark_receipts=True,
        block_events=False,
        media_ref_ttl=None,  # CDN links expire after an undocumented time: fetch at once
        send_media_by_url=True,
        send_media_upload=True,
        reply_to=False,
        # Send API attachments: 25 MB each; image/video/audio/file (captions follow as text).
        media_limits=MappingProxyType(
            {
                "photo": MediaLimit(25 * MB, frozenset({"image/jpeg", "image/png", "image/gif"})),
                "video": MediaLimit(25 * MB, frozenset({"video/mp4"})),
                "audio": MediaLimit(25 * MB),
                "document": MediaLimit(25 * MB),
            }
        ),
    )

    def _app_secret(self, credentials: MessengerCredentials) -> str:
        return credentials.app_secret

    def _verify_token(self, credentials: MessengerCredentials) -> str:
        return credentials.verify_token

    def _token(self, credentials: MessengerCredentials) -> str:
        return credentials.page_access_token

    def _send_url(self, credentials: MessengerCredentials) -> str:
        return self._graph_endpoint(credentials.page_id, "messages")

    def _send_media_item(
        self,
        credentials: MessengerCredentials,
        *,
        to: str,
        media: OutboundMedia,
        caption: str | None,
        reply_to: str | None,
        human_agent_tag: bool,
    ) -> str | SendError:
        kind = _ATTACHMENT_TYPES[media.kind]
        try:
            url = self._send_url(credentials)
        except ChannelApiError as exc:
            return exc.error
        envelope = self._envelope(to, human_agent_tag)
        if media.url is not None:
            envelope["message"] = {
                "attachment": {"type": kind, "payload": {"url": media.url, "is_reusable": False}}
            }
            return self._sent_id(self._graph("POST", url, credentials.page_access_token, json_body=envelope))
        # Upload with the message: multipart fields are JSON strings plus the file as ``filedata``.
        form = {
            key: value if isinstance(value, str) else json.dumps(value) for key, value in envelope.items()
        }
        form["message"] = json.dumps({"attachment": {"type": kind, "payload": {"is_reusable": False}}})
        upload = (
            media.file_name or "file",
            media.content or b"",
            media.mime_type or "application/octet-stream",
        )
        return self._sent_id(
            self._graph("POST", url, credentials.page_access_token, data=form, files={"filedata": upload})
        )

    def fetch_profile(self, credentials: MessengerCredentials, user_id: str) -> ClientProfile:
        """The User Profile API: ``GET /<PSID>?fields=first_name,last_name,profile_pic``, page token."""
        creds = self._check(credentials)
        data = self._graph_or_raise(
            "GET",
            self._graph_endpoint(user_id),
            creds.page_access_token,
            params={"fields": "first_name,last_name,profile_pic"},
        )
        name = " ".join(
            part
            for part in (optional_str(data.get("first_name")), optional_str(data.get("last_name")))
            if part
        )
        return ClientProfile(name=name or None, avatar_url=optional_str(data.get("profile_pic")))

    def connect(self, credentials: MessengerCredentials, *, webhook_url: str) -> ConnectResult:
        """Check the page token and subscribe our app to the page's messaging fields."""
        creds = self._check(credentials)
        page = self._graph_or_raise(
            "GET", self._graph_endpoint(creds.page_id), creds.page_access_token, params={"fields": "id,name"}
        )
        self._graph_or_raise(
            "POST",
            self._graph_endpoint(creds.page_id, "subscribed_apps"),
            creds.page_access_token,
            params={"subscribed_fields": ",".join(SUBSCRIBED_FIELDS)},
        )
        return ConnectResult(
            account_id=creds.page_id,
            account_name=optional_str(page.get("name")) or creds.page_id,
            webhook_url=webhook_url,
            verify_token=creds.verify_token,
            admin_steps=(
                _(
                    "In the Meta App Dashboard, open Messenger > Settings > Webhooks and enter this "
                    "callback URL and verify token."
                ),
            ),
        )

    def disconnect(self, credentials: MessengerCredentials) -> None:
        creds = self._check(credentials)
        self._graph_or_raise(
            "DELETE", self._graph_endpoint(creds.page_id, "subscribed_apps"), creds.page_access_token
        )


__all__ = ["SUBSCRIBED_FIELDS", "MessengerAdapter"]
