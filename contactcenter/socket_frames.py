"""What both websockets (the widget's and the staff page's) do with a frame before reading it.

A frame that is not one JSON document a handler can read (binary, invalid or deeply nested JSON, lone
surrogates) is answered with an error frame and the socket stays open; it is logged in one line. A
handler that fails unexpectedly is answered the same way: a socket closed with 1011 made the widget
resend the same message forever. The application close codes (4xxx) are listed in docs/api.md.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

# Nesting depth a frame may have: the widget's and the workspace's frames are two levels deep.
MAX_DEPTH = 8


class FrameError(ValueError):
    """A frame the socket cannot read; the message is for the page."""


def _too_deep(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def frame_decode(text_data: str | None, bytes_data: bytes | None) -> dict[str, Any]:
    """The JSON object of one text frame; FrameError for anything else."""
    if text_data is None:
        raise FrameError(_("Binary frames are not accepted; send JSON text."))
    try:
        content = json.loads(text_data)
    except RecursionError:
        raise FrameError(_("The frame is nested too deeply.")) from None
    except ValueError:
        raise FrameError(_("The frame is not valid JSON.")) from None
    if not isinstance(content, dict):
        raise FrameError(_("Expected a JSON object."))
    if _too_deep(content, MAX_DEPTH):
        raise FrameError(_("The frame is nested too deeply."))
    if "\\u" in text_data:  # only an escape can make a lone surrogate, which no database or log can store
        try:
            json.dumps(content, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise FrameError(_("The frame contains invalid characters (lone surrogates).")) from None
    return content


class JsonFrameConsumer(AsyncJsonWebsocketConsumer):
    """A JSON consumer that answers unreadable frames and unexpected failures instead of closing."""

    socket_name = "socket"

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        try:
            content = frame_decode(text_data, bytes_data)
        except FrameError as error:
            logger.info("%s: refused a frame: %s", self.socket_name, error)
            await self.send_json(self.frame_error(str(error), content=None))
            return
        try:
            await self.receive_json(content)
        except Exception as error:
            # One line, not a traceback per frame: a hostile page can send these as fast as it likes.
            logger.warning(
                "%s: %s handling a %r frame: %s",
                self.socket_name,
                type(error).__name__,
                content.get("type"),
                error,
            )
            logger.debug("%s: traceback", self.socket_name, exc_info=True)
            await self.send_json(
                self.frame_error(
                    _("The server could not handle this frame."), content=content, code="server_error"
                )
            )

    def frame_error(
        self, message: str, *, content: dict[str, Any] | None, code: str = "bad_frame"
    ) -> dict[str, Any]:
        return {"type": "error", "code": code, "error": message}
