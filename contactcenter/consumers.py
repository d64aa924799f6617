"""The staff websocket: one per open workspace tab, authenticated by the Django session.

Besides presence (online while a socket is open) the page sends:
- `{"type": "resync", "since": <event id>, "have": [<event id>, ...]}`: the events it missed, answered as
  `{"type": "resync", "since": ..., "events": [...], "more": bool}` (`openlines.resync`); after a
  reconnect and every `resync_every` seconds (told in `hello`) while connected;
- `{"type": "watch" | "unwatch", "session_id": n}`: follow a conversation the user may see but does not
  hold (supervisors), i.e. join its `session.<id>` group;
- `{"type": "typing", "session_id": n}`: the agent is typing to the client;
- `{"type": "heartbeat"}`: keeps presence fresh.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from contactcenter.services.availability import presence_connect, presence_disconnect, presence_heartbeat
from openlines.resync import ResyncRequest, resync_request
from openlines.services.events import call_then_push

if TYPE_CHECKING:
    from openlines.selectors import ResyncPage

# Close codes in the 4000 range are application-defined (RFC 6455 §7.4.2).
CLOSE_UNAUTHENTICATED = 4401
MAX_WATCHED = 50


def staff_group(user_id: int) -> str:
    return f"staff.{user_id}"


def _session_id(content: dict[str, Any]) -> int | None:
    value = content.get("session_id")
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _can_view(user: Any, session_id: int) -> bool:
    from openlines.services.actions import session_can_view
    from openlines.session_models import Session

    session = Session.objects.filter(pk=session_id).first()
    return session is not None and session_can_view(user, session)


def _typing(user: Any, session_id: int) -> bool:
    from openlines.services.actions import _relation, typing_publish
    from openlines.session_models import Session

    session = Session.objects.select_related("line").filter(pk=session_id, closed=False).first()
    if session is None or not _relation(user, session):
        return False
    typing_publish(session=session, by_client=False, user_id=user.pk)
    return True


def _resync(user_id: int, request: ResyncRequest, watched: set[int]) -> ResyncPage:
    from openlines.selectors import realtime_events_for_user

    return realtime_events_for_user(
        user_id=user_id, since=request.since, have=request.have, watched_session_ids=watched
    )


class StaffConsumer(AsyncJsonWebsocketConsumer):
    user_id: int | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        # The same gate as every staff page and the API: a login without `is_staff` is not enough.
        if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user.pk
        self.watched: set[int] = set()
        await self.channel_layer.group_add(staff_group(user.pk), self.channel_name)
        await self.accept()
        await call_then_push(presence_connect, user_id=user.pk)
        # The page sends `have` for this window (plus a margin) of what it received.
        await self.send_json(
            {
                "type": "hello",
                "user_id": user.pk,
                "resync_lookback": settings.RESYNC_LOOKBACK,
                "resync_every": settings.RESYNC_INTERVAL,
            }
        )

    async def disconnect(self, code: int) -> None:
        if self.user_id is None:
            return
        await self.channel_layer.group_discard(staff_group(self.user_id), self.channel_name)
        for session_id in getattr(self, "watched", set()):
            await self.channel_layer.group_discard(f"session.{session_id}", self.channel_name)
        await call_then_push(presence_disconnect, user_id=self.user_id)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "error": "expected a JSON object"})
            return
        kind = content.get("type")
        assert self.user_id is not None  # receive only follows an accepted connect
        if kind == "heartbeat":
            await call_then_push(presence_heartbeat, user_id=self.user_id)
            await self.send_json({"type": "heartbeat.ack"})
        elif kind == "resync":
            await self._on_resync(content)
        elif kind in ("watch", "unwatch", "typing"):
            session_id = _session_id(content)
            if session_id is None:
                await self.send_json({"type": "error", "error": "session_id must be a number"})
            elif kind == "watch":
                await self._on_watch(session_id)
            elif kind == "unwatch":
                self.watched.discard(session_id)
                await self.channel_layer.group_discard(f"session.{session_id}", self.channel_name)
                await self.send_json({"type": "unwatched", "session_id": session_id})
            elif not await call_then_push(_typing, self.scope["user"], session_id):
                await self.send_json({"type": "error", "error": "forbidden", "session_id": session_id})
        else:
            await self.send_json({"type": "error", "error": f"unknown message type {kind!r}"})

    async def _on_resync(self, content: dict[str, Any]) -> None:
        try:
            request = resync_request(content)
        except ValueError as error:
            await self.send_json({"type": "error", "error": str(error)})
            return
        assert self.user_id is not None
        page = await database_sync_to_async(_resync)(self.user_id, request, set(self.watched))
        await self.send_json(
            {"type": "resync", "since": request.since, "events": page.events, "more": page.more}
        )

    async def _on_watch(self, session_id: int) -> None:
        allowed = await database_sync_to_async(_can_view)(self.scope["user"], session_id)
        if not allowed or len(self.watched) >= MAX_WATCHED:
            await self.send_json({"type": "error", "error": "forbidden", "session_id": session_id})
            return
        self.watched.add(session_id)
        await self.channel_layer.group_add(f"session.{session_id}", self.channel_name)
        await self.send_json({"type": "watching", "session_id": session_id})

    async def staff_events(self, message: dict[str, Any]) -> None:
        """Relay the events of one commit published to this user's group or a watched conversation."""
        for event in message["events"]:
            await self.send_json(event)

    async def staff_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
