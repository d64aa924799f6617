"""The staff websocket: one per open workspace tab, authenticated by the Django session.

Besides presence (online while a socket is open) the page sends:
- `{"type": "resync", "since": <event id>, "have": [<event id>, ...]}`: the events it missed, answered as
  `{"type": "resync", "since": ..., "events": [...], "more": bool}` (`openlines.resync`); after a
  reconnect and every `resync_every` seconds (told in `hello`) while connected;
- `{"type": "watch" | "unwatch", "session_id": n}`: follow a conversation the user may see but does not
  hold (supervisors), i.e. join its `session.<id>` group;
- `{"type": "typing", "session_id": n}`: the agent is typing to the client;
- `{"type": "heartbeat"}`: keeps presence fresh.

Access is checked while the socket lives, not only at connect: a watched conversation's events are relayed
only while the user may still see it (checked per delivery unless the user gets the same events through
their own group anyway; the conversation may have been transferred away, a role changed...), a resync
returns only what the user may see now, and the socket is closed with 4401 when its login session ends
(logout, expiry, password change) or the user is deactivated or loses staff status
(`contactcenter.socket_access`).
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, load_backend
from django.utils.crypto import constant_time_compare

from contactcenter.services.availability import presence_connect, presence_disconnect, presence_heartbeat
from contactcenter.socket_frames import JsonFrameConsumer
from openlines.resync import ResyncRequest, resync_request
from openlines.services.events import call_then_push

if TYPE_CHECKING:
    from openlines.selectors import ResyncPage

logger = logging.getLogger(__name__)

# Close codes in the 4000 range are application-defined (RFC 6455 §7.4.2), listed in docs/api.md. 4401:
# not signed in, or no longer (the page says so and stops reconnecting).
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


def signed_in_staff(session_key: str | None, user_id: int) -> Any | None:
    """The socket's user as a new request with its login session would see them now; None when that session
    ended (logout, expiry, a password change) or the user may no longer open staff pages."""
    if not session_key:
        return None
    # What `django.contrib.auth.get_user` checks, read only: that one may flush or re-key the session, which
    # a socket cannot hand back to the browser as a cookie.
    data = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key).load()
    backend_path = data.get(BACKEND_SESSION_KEY)
    if str(data.get(SESSION_KEY)) != str(user_id) or backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    user = load_backend(backend_path).get_user(user_id)  # None for a deactivated user
    if user is None or not user.is_active or not user.is_staff:
        return None
    session_hash = data.get(HASH_SESSION_KEY) or ""
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    if not any(constant_time_compare(session_hash, known) for known in hashes):
        return None  # the password changed since this login
    return user


def _viewable(session_key: str | None, user_id: int, session_ids: set[int]) -> set[int] | None:
    """Which of `session_ids` the user may see now; None when the socket's login session ended."""
    user = signed_in_staff(session_key, user_id)
    if user is None:
        return None
    return {session_id for session_id in session_ids if _can_view(user, session_id)}


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


def _resync(
    session_key: str | None, user_id: int, request: ResyncRequest, watched: set[int]
) -> tuple[ResyncPage | None, set[int]]:
    """The page of events (None when the login session ended) and the watched sessions no longer visible."""
    from openlines.selectors import realtime_events_for_user

    visible = _viewable(session_key, user_id, watched)
    if visible is None:
        return None, set()
    page = realtime_events_for_user(
        user_id=user_id, since=request.since, have=request.have, watched_session_ids=visible
    )
    return page, watched - visible


class StaffConsumer(JsonFrameConsumer):
    socket_name = "staff socket"
    user_id: int | None = None
    session_key: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        # The same gate as every staff page and the API: a login without `is_staff` is not enough.
        if user is None or not user.is_authenticated or not user.is_active or not user.is_staff:
            # Accepted, then closed with the reason: refused before accept, the page would see 1006.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user.pk
        self.session_key = getattr(self.scope.get("session"), "session_key", None)
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
        kind = content.get("type")
        if self.user_id is None:
            return  # a frame that raced the close of a refused socket
        if kind == "heartbeat":
            if await self._closed_if_signed_out():
                return
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
        page, lost = await database_sync_to_async(_resync)(
            self.session_key, self.user_id, request, set(self.watched)
        )
        if page is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self._unwatch_lost(lost)
        await self.send_json(
            {"type": "resync", "since": request.since, "events": page.events, "more": page.more}
        )

    async def _closed_if_signed_out(self) -> bool:
        assert self.user_id is not None
        if await database_sync_to_async(signed_in_staff)(self.session_key, self.user_id) is not None:
            return False
        await self.close(code=CLOSE_UNAUTHENTICATED)
        return True

    async def _unwatch_lost(self, session_ids: set[int]) -> None:
        """Stop following conversations the user may no longer see, and tell the page."""
        for session_id in sorted(session_ids & self.watched):
            self.watched.discard(session_id)
            await self.channel_layer.group_discard(f"session.{session_id}", self.channel_name)
            await self.send_json({"type": "unwatched", "session_id": session_id, "reason": "forbidden"})

    async def _watch_allowed(self, session_id: int) -> bool | None:
        """Whether the user may see the conversation now; None (and the socket closed) when signed out."""
        assert self.user_id is not None
        visible = await database_sync_to_async(_viewable)(self.session_key, self.user_id, {session_id})
        if visible is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return None
        return session_id in visible

    async def _on_watch(self, session_id: int) -> None:
        allowed = await self._watch_allowed(session_id)
        if allowed is None:
            return
        if not allowed or len(self.watched) >= MAX_WATCHED:
            await self.send_json({"type": "error", "error": "forbidden", "session_id": session_id})
            return
        self.watched.add(session_id)
        await self.channel_layer.group_add(f"session.{session_id}", self.channel_name)
        await self.send_json({"type": "watching", "session_id": session_id})

    async def staff_events(self, message: dict[str, Any]) -> None:
        """Relay the events of one commit published to this user's group or a watched conversation."""
        if await self._relayable(message):
            for event in message["events"]:
                await self.send_json(event)

    async def staff_event(self, message: dict[str, Any]) -> None:
        if await self._relayable(message):
            await self.send_json(message["event"])

    async def _relayable(self, message: dict[str, Any]) -> bool:
        """Whether a pushed message may reach this socket. Those of the user's own group were addressed
        after the commit (to the conversation's agents); those of a watched conversation are checked now,
        unless the user gets the same events through their own group anyway (`covered`)."""
        if "covered" not in message:
            return True  # the user's own group (a watched conversation's messages always say `covered`)
        if self.user_id in message["covered"]:
            return False  # the same events come (came) through the user's own group
        events = message["events"] if "events" in message else [message["event"]]
        watched = {event.get("session_id") for event in events} & self.watched
        if not watched:
            return False  # no longer watched: left over in the group
        for session_id in watched:
            try:
                allowed = await self._watch_allowed(session_id)
            except Exception as error:
                # Not known to be allowed: not relayed (the page resyncs), and the socket stays.
                logger.warning("staff socket: access check failed (%s: %s)", type(error).__name__, error)
                return False
            if allowed is None:
                return False
            if not allowed:
                await self._unwatch_lost({session_id})
                return False
        return True

    async def staff_access(self, message: dict[str, Any]) -> None:
        """Something about the user's access changed (`contactcenter.socket_access`): a logout of this
        socket's login session closes it; otherwise the session and the watched conversations are checked."""
        if message.get("session_key") and message["session_key"] == self.session_key:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        assert self.user_id is not None
        visible = await database_sync_to_async(_viewable)(self.session_key, self.user_id, set(self.watched))
        if visible is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self._unwatch_lost(self.watched - visible)
