"""Reading what a test websocket receives, without betting on how fast a push crosses the channel layer.

A push travels database commit -> channel layer (Redis in the scaled mode) -> consumer -> socket. Under CI
load on two cores that can take longer than any "quiet period" a test could afford to wait after every
step, so a test that expects an event waits for that event (`receive_through`), and only a test that
checks that nothing (more) arrives relies on a quiet period (`drain`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from channels.testing import WebsocketCommunicator

Event = dict[str, Any]

QUIET_SECONDS = 0.3
EXPECTED_WITHIN_SECONDS = 10.0


async def drain(ws: WebsocketCommunicator, quiet: float = QUIET_SECONDS) -> list[Event]:
    """Everything the socket receives until it has been silent for `quiet` seconds."""
    received = []
    while not await ws.receive_nothing(timeout=quiet):
        received.append(await ws.receive_json_from())
    return received


async def receive_through(
    ws: WebsocketCommunicator, wanted: Callable[[Event], bool], within: float = EXPECTED_WITHIN_SECONDS
) -> list[Event]:
    """The events up to the first one `wanted` accepts (which must arrive within `within` seconds), then
    whatever follows it until the socket is quiet."""
    received = []
    while True:
        event = await ws.receive_json_from(timeout=within)
        received.append(event)
        if wanted(event):
            return received + await drain(ws)


def message_new(text: str) -> Callable[[Event], bool]:
    return lambda event: event["type"] == "message.new" and event["message"]["text"] == text


def of_type(kind: str) -> Callable[[Event], bool]:
    return lambda event: event["type"] == kind


def new_messages(events: list[Event]) -> list[Event]:
    return [event for event in events if event["type"] == "message.new"]
