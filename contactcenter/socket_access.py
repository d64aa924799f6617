"""Telling open staff sockets that their user's access changed, the moment it changes.

A logout closes the sockets of that login session; any other change to the user (deactivation, staff
status or superuser status taken away, a new password: `staff_sockets_recheck` after commit) makes each of
the user's sockets check its login session and the conversations it watches again. What a user may see
through roles, queues or transfers is checked by the socket per delivery and per resync
(`contactcenter.consumers`); these notices only make a session that ended close at once instead of at the
socket's next heartbeat or resync.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save

logger = logging.getLogger(__name__)

ACCESS_HANDLER = "staff.access"


def staff_sockets_recheck(*, user_id: int, session_key: str | None = None) -> None:
    """Ask the user's open staff sockets to check their access now; `session_key`: that login session
    ended (its sockets close)."""
    from contactcenter.consumers import staff_group

    layer = get_channel_layer()
    if layer is None:
        return
    message: dict[str, Any] = {"type": ACCESS_HANDLER}
    if session_key:
        message["session_key"] = session_key
    try:
        async_to_sync(layer.group_send)(staff_group(user_id), message)
    except Exception:
        # The sockets still check at their next heartbeat or resync.
        logger.warning(
            "could not tell the staff sockets of user %s to check their access", user_id, exc_info=True
        )


def _on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None or request is None:
        return
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    staff_sockets_recheck(user_id=user.pk, session_key=session_key)


def _on_user_changed(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if kwargs.get("created"):
        return  # a new user has no sockets
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # every login writes this: nothing about access
    user_id = instance.pk
    transaction.on_commit(lambda: staff_sockets_recheck(user_id=user_id), robust=True)


def socket_access_connect() -> None:
    user_model = get_user_model()
    user_logged_out.connect(_on_logout, dispatch_uid="contactcenter.socket_access.logout")
    post_save.connect(_on_user_changed, sender=user_model, dispatch_uid="contactcenter.socket_access.save")
    post_delete.connect(
        _on_user_changed, sender=user_model, dispatch_uid="contactcenter.socket_access.delete"
    )
