"""The live chat widget's websocket: `/ws/livechat/<line code>/?token=<visitor token>`.

No Origin check: the widget runs on customers' own sites. The signed visitor token is the credential.
The widget sends `message` (with its own `client_id` per message), `typing`, `consent`, `form`, `rate`,
`resync` (`since` an event id, `have` the ids it holds: `openlines.resync`; after a reconnect and every
`resync_every` seconds, told in `hello`, while it has a conversation) and `ping`; it receives the
chat's client events, reshaped for visitors.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError

from contactcenter.models import Connector
from contactcenter.socket_frames import JsonFrameConsumer
from openlines.models import OpenLine
from openlines.resync import resync_request
from openlines.services import livechat
from openlines.services.events import call_then_push, client_group
from openlines.services.ratelimit import rate_limit_hit_async
from openlines.session_models import Message

# Close codes (docs/api.md): the visitor token is not (or no longer) valid for this line: the widget drops
# it and starts a new conversation; no such line: the widget stops.
CLOSE_BAD_TOKEN = 4403
CLOSE_NO_LINE = 4404
# The line takes no visitors now (line off, live chat disconnected or switched off); told in an
# `unavailable` frame first. The widget asks the session endpoint again later instead of reconnecting.
CLOSE_UNAVAILABLE = 4410
# Per visitor: messages and other actions within a 10-second window (limits in settings
# LIVECHAT_RATE_LIMIT_*); typing is throttled separately.
WINDOW_SECONDS = 10
# Ids of the socket's own recent messages, to recognise their echo without a database query.
SENT_REMEMBERED = 100


def _errors(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {field: [str(m) for m in messages] for field, messages in error.message_dict.items()}
    return {"__all__": [str(m) for m in error.messages]}


class LivechatConsumer(JsonFrameConsumer):
    socket_name = "livechat socket"
    line: OpenLine
    visitor: livechat.Visitor
    chat_id: int | None = None
    connector: Connector | None = None

    async def connect(self) -> None:
        code = self.scope["url_route"]["kwargs"]["code"]
        line = await database_sync_to_async(OpenLine.objects.filter(code=code).first)()
        # Accepted, then closed with the reason: a socket refused before accept reaches the page as 1006,
        # which it cannot tell from a network failure (and retried forever with a token gone bad).
        if line is None:
            await self.accept()
            await self.close(code=CLOSE_NO_LINE)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        token = (query.get("token") or [""])[0]
        visitor = livechat.visitor_from_token(line=line, token=token)
        if visitor is None:
            await self.accept()
            await self.close(code=CLOSE_BAD_TOKEN)
            return
        self.line, self.visitor = line, visitor
        refusal = await database_sync_to_async(livechat.livechat_refusal)(line=line)
        await self.accept()
        if refusal is not None:
            await self._refuse(refusal)
            return
        await self._join_chat()
        # The widget sends `have` for this window (plus a margin) of what it received.
        await self.send_json(
            {
                "type": "hello",
                "resync_lookback": settings.RESYNC_LOOKBACK,
                "resync_every": settings.RESYNC_INTERVAL,
            }
        )

    async def _refuse(self, refusal: livechat.LivechatUnavailable) -> None:
        await self.send_json({"type": "unavailable", "message": refusal.text})
        await self.close(code=CLOSE_UNAVAILABLE)

    async def disconnect(self, code: int) -> None:
        if self.chat_id is not None:
            await self.channel_layer.group_discard(client_group(self.chat_id), self.channel_name)

    async def _join_chat(self) -> None:
        if self.chat_id is not None:
            return
        chat = await database_sync_to_async(livechat.visitor_chat)(line=self.line, visitor=self.visitor)
        if chat is not None:
            self.chat_id = chat.pk
            await self.channel_layer.group_add(client_group(chat.pk), self.channel_name)

    async def _connector(self) -> Connector:
        """The line's live chat connector, read once per socket (it lives as long as the line)."""
        if self.connector is None:
            self.connector = await database_sync_to_async(livechat.livechat_connector_for)(self.line)
        return self.connector

    async def _limited(self, bucket: str, limit: int) -> bool:
        return await rate_limit_hit_async(
            key=f"lc:{bucket}:{self.visitor.visitor_id}", limit=limit, window_seconds=WINDOW_SECONDS
        )

    def frame_error(
        self, message: str, *, content: dict[str, Any] | None, code: str = "bad_frame"
    ) -> dict[str, Any]:
        """The widget's error shape. `server_error`: the widget may resend later; others are final."""
        content = content or {}
        return {
            "type": "error",
            "code": code,
            "request": content.get("type"),
            "client_id": content.get("client_id"),
            "errors": {"__all__": [message]},
        }

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if "visitor" not in self.__dict__:
            return  # a frame that raced the close of a refused socket
        kind = content.get("type")
        if kind == "typing":
            if not await self._limited("typing", settings.LIVECHAT_RATE_LIMIT_ACTIONS_PER_10S):
                await call_then_push(
                    livechat.livechat_typing,
                    line=self.line,
                    visitor=self.visitor,
                    preview=content.get("text", ""),
                )
            return
        if kind == "ping":
            await self.send_json({"type": "pong"})
            return
        limits = settings.LIVECHAT_RATE_LIMIT_MESSAGES_PER_10S, settings.LIVECHAT_RATE_LIMIT_ACTIONS_PER_10S
        limited = await self._limited("message", limits[0]) if kind == "message" else False
        if limited or await self._limited("action", limits[1]):
            await self.send_json(
                {"type": "error", "code": "rate_limited", "client_id": content.get("client_id"), "errors": {}}
            )
            return
        try:
            await self._dispatch(kind, content)
        except livechat.LivechatUnavailable as refusal:
            await self._refuse(refusal)
        except ValidationError as error:
            await self.send_json(
                {
                    "type": "error",
                    "code": "invalid",
                    "request": kind,
                    "client_id": content.get("client_id"),
                    "errors": _errors(error),
                }
            )

    async def _dispatch(self, kind: Any, content: dict[str, Any]) -> None:
        if kind == "message":
            result = await call_then_push(
                livechat.livechat_message_receive,
                line=self.line,
                visitor=self.visitor,
                client_message_id=content.get("client_id", ""),
                text=content.get("text", ""),
                attachments=content.get("attachments"),
                page_url=content.get("url", ""),
                connector=await self._connector(),
            )
            if self.chat_id is None:
                self.chat_id = result.message.chat_id
                await self.channel_layer.group_add(client_group(self.chat_id), self.channel_name)
            if not result.duplicate:
                self._remember_sent(result.message.pk, result.message.external_id or "")
            await self.send_json(
                {"type": "ack", "client_id": content.get("client_id"), "message_id": result.message.pk}
            )
            since = content.get("since")
            if result.session_created and not result.duplicate and isinstance(since, int) and since >= 0:
                # The events of the new session were pushed before this socket joined the chat's group.
                await self._send_events_since(since)
        elif kind == "consent":
            await call_then_push(livechat.livechat_consent_give, line=self.line, visitor=self.visitor)
            await self.send_json({"type": "consent.ok"})
        elif kind == "form":
            await call_then_push(
                livechat.livechat_contact_save,
                line=self.line,
                visitor=self.visitor,
                name=content.get("name", ""),
                email=content.get("email", ""),
                phone=content.get("phone", ""),
            )
            await self.send_json({"type": "form.ok"})
        elif kind == "rate":
            await call_then_push(
                livechat.livechat_rate, line=self.line, visitor=self.visitor, vote=content.get("vote", "")
            )
        elif kind == "resync":
            try:
                request = resync_request(content)
            except ValueError as error:
                raise ValidationError(str(error)) from error
            await self._join_chat()
            await self._send_events_since(request.since, request.have)
        else:
            raise ValidationError(f"unknown message type {kind!r}")

    async def _send_events_since(self, since: int, have: frozenset[int] = frozenset()) -> None:
        events, more = await database_sync_to_async(self._events_since)(since, have)
        await self.send_json({"type": "resync", "since": since, "events": events, "more": more})

    def _events_since(self, since: int, have: frozenset[int]) -> tuple[list[dict[str, Any]], bool]:
        from openlines.selectors import client_events_since

        if self.chat_id is None:
            return [], False
        page = client_events_since(chat_id=self.chat_id, since=since, have=have)
        shaped = (
            livechat.client_event_shape(e, line=self.line, visitor_id=self.visitor.visitor_id)
            for e in page.events
        )
        return [e for e in shaped if e is not None], page.more

    def _remember_sent(self, message_id: int, external_id: str) -> None:
        sent = self.__dict__.setdefault("_sent", {})
        sent[message_id] = external_id
        if len(sent) > SENT_REMEMBERED:
            del sent[next(iter(sent))]

    async def client_events(self, message: dict[str, Any]) -> None:
        """The chat's events of one commit, shaped for the visitor; at most one database hop for all."""
        pending: list[dict[str, Any]] = []
        sent: dict[Any, str] = self.__dict__.get("_sent", {})
        for event in message["events"]:
            if event.get("type") == "typing" and event.get("by") == "client":
                continue
            own = sent.pop((event.get("message") or {}).get("id"), None)
            if event.get("type") == "message.new" and own is not None:
                # The echo of a message this socket just sent: its channel id is known, so shaping it
                # needs no database hop (which would queue behind every other visitor's message).
                event = {**event, "message": {**event["message"], "external_id": own}}
            pending.append(event)
        if not pending:
            return
        if all(self._shapes_offline(event) for event in pending):
            shaped = self._shape_all(pending)
        else:
            shaped = await database_sync_to_async(self._shape_all)(pending)
        for event in shaped:
            await self.send_json(event)

    async def client_event(self, message: dict[str, Any]) -> None:
        await self.client_events({"events": [message["event"]]})

    @staticmethod
    def _shapes_offline(event: dict[str, Any]) -> bool:
        """Whether shaping `event` for the widget needs no database query."""
        kind = event.get("type")
        if kind == "typing":
            return False
        if kind != "message.new":
            return True
        message = event.get("message") or {}
        if message.get("internal"):
            return True
        # An agent's identity is read per the line's settings; a client message needs its channel id.
        author = message.get("author_type")
        return not (
            author == Message.Author.AGENT
            or (author == Message.Author.CLIENT and message.get("external_id") is None)
        )

    def _shape_all(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        shaped = (
            livechat.client_event_shape(e, line=self.line, visitor_id=self.visitor.visitor_id) for e in events
        )
        return [e for e in shaped if e is not None]
