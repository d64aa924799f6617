"""Instagram messaging adapter (``object: instagram``), for both login flavours.

Instagram Login: ``graph.instagram.com/<ver>/me/...`` with the IG user token. Facebook Login: the IG
account is linked to a Page and messages go through ``graph.facebook.com/<ver>/<PAGE_ID>/messages``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from types import MappingProxyType
from typing import Any, ClassVar

import httpx
from django.utils.translation import gettext as _

from contactcenter.connectors.adapters.base import (
    DEFAULT_MAX_MEDIA_BYTES,
    MB,
    Capabilities,
    ChannelApiError,
    ClientProfile,
    ConnectResult,
    InstagramCredentials,
    MediaLimit,
    OutboundMedia,
    SendError,
    optional_str,
)
from contactcenter.connectors.adapters.meta import DEFAULT_GRAPH_VERSION, GRAPH_API_URL, PageMessagingAdapter

INSTAGRAM_API_URL = "https://graph.instagram.com"
SUBSCRIBED_FIELDS = ("messages", "messaging_seen")
_ATTACHMENT_TYPES = {"photo": "image", "video": "video", "audio": "audio"}


class InstagramAdapter(PageMessagingAdapter[InstagramCredentials]):
    kind = "instagram"
    credentials_type: ClassVar[type[Any]] = InstagramCredentials
    expected_object = "instagram"
    always_messaging_type = False
    supports_metadata = False
    capabilities = Capabilities(
        text_limit=1000,  # "UTF-8, at most 1000 bytes"
        text_limit_unit="bytes",
        caption_limit=None,
        reply_window=timedelta(hours=24),
        human_agent_window=timedelta(days=7),
        delivery_receipts=False,
        read_receipts=True,
        watermark_receipts=True,  # messaging_seen names the last message read
        block_events=False,
        media_ref_ttl=None,  # CDN links expire after an undocumented time: fetch at once
        send_media_by_url=True,
        send_media_upload=True,
        reply_to=False,
        # Images PNG/JPEG up to 8 MB, audio and video up to 25 MB; no documents.
        media_limits=MappingProxyType(
            {
                "photo": MediaLimit(8 * MB, frozenset({"image/jpeg", "image/png"})),
                "video": MediaLimit(
                    25 * MB, frozenset({"video/mp4", "video/ogg", "video/webm", "video/quicktime"})
                ),
                "audio": MediaLimit(
                    25 * MB, frozenset({"audio/aac", "audio/mp4", "audio/x-m4a", "audio/wav", "audio/mpeg"})
                ),
            }
        ),
        media_by_url_kinds=frozenset({"photo", "video", "audio"}),
    )

    def __init__(
        self,
        *,
        client: httpx.Client,
        graph_url: str = GRAPH_API_URL,
        graph_version: str = DEFAULT_GRAPH_VERSION,
        instagram_url: str = INSTAGRAM_API_URL,
        max_media_bytes: int = DEFAULT_MAX_MEDIA_BYTES,
    ) -> None:
        super().__init__(
            client=client, graph_url=graph_url, graph_version=graph_version, max_media_bytes=max_media_bytes
        )
        self.instagram_url = instagram_url.rstrip("/")

    def _app_secret(self, credentials: InstagramCredentials) -> str:
        return credentials.app_secret

    def _verify_token(self, credentials: InstagramCredentials) -> str:
        return credentials.verify_token

    def _token(self, credentials: InstagramCredentials) -> str:
        return credentials.access_token

    def _send_url(self, credentials: InstagramCredentials) -> str:
        if credentials.login == "instagram":
            return self._graph_endpoint("me", "messages", base_url=self.instagram_url)
        return self._graph_endpoint(credentials.page_id or "", "messages")

    def _send_media_item(
        self,
        credentials: InstagramCredentials,
        *,
        to: str,
        media: OutboundMedia,
        caption: str | None,
        reply_to: str | None,
        human_agent_tag: bool,
    ) -> str | SendError:
        kind = _ATTACHMENT_TYPES.get(media.kind)
        if kind is None or kind == "file":
            return SendError(
                False,
                None,
                "unsupported_media",
                _("Instagram accepts only images, videos and audio."),
                "unsupported",
            )
        try:
            url = self._send_url(credentials)
        except ChannelApiError as exc:
            return exc.error
        body = self._envelope(to, human_agent_tag)
        if media.url is not None:
            body["message"] = {"attachment": {"type": kind, "payload": {"url": media.url}}}
            return self._sent_id(self._graph("POST", url, credentials.access_token, json_body=body))
        # Upload with the message, as on Messenger: JSON-encoded form fields plus the file as ``filedata``.
        form = {key: value if isinstance(value, str) else json.dumps(value) for key, value in body.items()}
        form["message"] = json.dumps({"attachment": {"type": kind, "payload": {}}})
        upload = (
            media.file_name or "file",
            media.content or b"",
            media.mime_type or "application/octet-stream",
        )
        return self._sent_id(
            self._graph("POST", url, credentials.access_token, data=form, files={"filedata": upload})
        )

    def fetch_profile(self, credentials: InstagramCredentials, user_id: str) -> ClientProfile:
        """The User Profile API on the IGSID: ``GET /<IGSID>?fields=name,username,profile_pic`` (on
        graph.instagram.com with Instagram Login, graph.facebook.com with Facebook Login)."""
        creds = self._check(credentials)
        base_url = self.instagram_url if creds.login == "instagram" else None
        data = self._graph_or_raise(
            "GET",
            self._graph_endpoint(user_id, base_url=base_url),
            creds.access_token,
            params={"fields": "name,username,profile_pic"},
        )
        username = optional_str(data.get("username"))
        return ClientProfile(
            name=optional_str(data.get("name")) or (f"@{username}" if username else None),
            username=username,
            avatar_url=optional_str(data.get("profile_pic")),
            profile_url=f"https://www.instagram.com/{username}/" if username else None,
        )

    def connect(self, credentials: InstagramCredentials, *, webhook_url: str) -> ConnectResult:
        """Check the token belongs to the account, then enable webhooks for it."""
        creds = self._check(credentials)
        if creds.login == "instagram":
            me = self._graph_or_raise(
                "GET",
                self._graph_endpoint("me", base_url=self.instagram_url),
                creds.access_token,
                params={"fields": "user_id,username"},
            )
            if str(me.get("user_id")) != creds.account_id and str(me.get("id")) != creds.account_id:
                raise ChannelApiError(
                    SendError(
                        False,
                        None,
                        "wrong_account",
                        _("The access token belongs to another Instagram account."),
                        "auth",
                    )
                )
            self._graph_or_raise(
                "POST",
                self._graph_endpoint("me", "subscribed_apps", base_url=self.instagram_url),
                creds.access_token,
                params={"subscribed_fields": ",".join(SUBSCRIBED_FIELDS)},
            )
        else:
            me = self._graph_or_raise(
                "GET",
                self._graph_endpoint(creds.account_id),
                creds.access_token,
                params={"fields": "id,username"},
            )
            self._graph_or_raise(
                "POST",
                self._graph_endpoint(creds.page_id or "", "subscribed_apps"),
                creds.access_token,
                params={"subscribed_fields": "messages"},
            )
        username = optional_str(me.get("username"))
        return ConnectResult(
            account_id=creds.account_id,
            account_name=f"@{username}" if username else creds.account_id,
            webhook_url=webhook_url,
            verify_token=creds.verify_token,
            admin_steps=(
                _(
                    "In the Meta App Dashboard, open the Instagram webhooks settings and enter this "
                    "callback URL and verify token, then subscribe to the messages and messaging_seen "
                    "fields."
                ),
            ),
        )

    def disconnect(self, credentials: InstagramCredentials) -> None:
        creds = self._check(credentials)
        if creds.login == "instagram":
            url = self._graph_endpoint("me", "subscribed_apps", base_url=self.instagram_url)
        else:
            url = self._graph_endpoint(creds.page_id or "", "subscribed_apps")
        self._graph_or_raise("DELETE", url, creds.access_token)


__all__ = ["INSTAGRAM_API_URL", "SUBSCRIBED_FIELDS", "InstagramAdapter"]
