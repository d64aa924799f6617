"""The ASGI application daphne serves: `python -m daphne floor_app.asgi:application` (bench/ on the path)."""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "floor_app.settings")
django.setup()


def gc_pause_log(phase: str, info: dict[str, Any], started: list[float] = [0.0]) -> None:  # noqa: B006
    """Every garbage collection of >= 1 ms as a JSON line on stdout (the bench matches them to its stages
    by CLOCK_MONOTONIC, which all processes share)."""
    if phase == "start":
        started[0] = time.monotonic()
        return
    took = time.monotonic() - started[0]
    if took >= 0.001:
        line = {"gc_pause": {"at": started[0], "ms": round(took * 1000, 2), "generation": info["generation"]}}
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()


gc.callbacks.append(gc_pause_log)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402
from floor_app.consumers import AgentConsumer, CustomerConsumer, EchoConsumer  # noqa: E402


async def health(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


application = ProtocolTypeRouter(
    {
        "http": health,
        "websocket": URLRouter(
            [
                path("ws/customer/<int:conversation>/", CustomerConsumer.as_asgi()),
                path("ws/agent/<int:agent>/", AgentConsumer.as_asgi()),
                path("ws/echo/", EchoConsumer.as_asgi()),
            ]
        ),
    }
)
