"""Resync after out-of-order commits: a page at cursor `since` listing the ids it holds (`have`) gets the
events it lacks below the cursor that were created within the lookback window, and the answer pages."""

from __future__ import annotations

import asyncio
import datetime
import threading
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection, transaction
from django.utils import timezone

from openlines.services.events import event_publish
from openlines.session_models import RealtimeEvent, Session
from tests.openlines.test_livechat import receive_until as widget_receive_until
from tests.openlines.test_livechat import start, widget
from tests.openlines.test_staff_socket_workspace import staff_socket

# A cache namespace of each test's own: the widget tests open many visitor sessions from one address,
# which in a shared Redis would use up other tests' per-address limit.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_cache")]


async def receive_until(ws: WebsocketCommunicator, kind: str) -> dict:
    """The next frame of `kind`, skipping live pushes in between."""
    for _ in range(50):
        frame = await ws.receive_json_from(timeout=5)
        if frame["type"] == kind:
            return frame
    raise AssertionError(f"no {kind}")


async def resync(ws: WebsocketCommunicator, since: int, have: list[int] | None = None) -> dict:
    request: dict = {"type": "resync", "since": since}
    if have is not None:
        request["have"] = have
    await ws.send_json_to(request)
    return await receive_until(ws, "resync")


def notify(user_id: int, text: str, *, age: float = 0) -> int:
    """An event addressed to one staff member, created `age` seconds ago; its id."""
    [row] = event_publish(type="notification", payload={"text": text}, users=[user_id])
    if age:
        created = timezone.now() - datetime.timedelta(seconds=age)
        RealtimeEvent.objects.filter(pk=row.pk).update(created_at=created)
    return row.pk


@pytest.mark.skipif(connection.vendor != "postgresql", reason="two concurrent transactions: PostgreSQL only")
async def test_an_event_committed_after_a_newer_one_reaches_the_page_that_saw_the_newer(agents):
    agent = agents[0]
    inserted, release = threading.Event(), threading.Event()
    x: dict[str, int] = {}

    def slow_transaction() -> None:
        try:
            with transaction.atomic():
                x["id"] = notify(agent.pk, "X")
                inserted.set()
                assert release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=slow_transaction)
    thread.start()
    try:
        assert await asyncio.to_thread(inserted.wait, 10)
        y = await database_sync_to_async(notify)(agent.pk, "Y")
        assert x["id"] < y
        ws = await staff_socket(agent)
        # X is not committed yet: nothing new for a page that saw Y.
        assert (await resync(ws, y, [y]))["events"] == []
    finally:
        release.set()
        await asyncio.to_thread(thread.join, 10)

    reply = await resync(ws, y, [y])
    assert [(e["id"], e["text"]) for e in reply["events"]] == [(x["id"], "X")]
    assert reply["more"] is False
    assert (await resync(ws, y, [x["id"], y]))["events"] == []
    await ws.disconnect()


async def test_staff_resync_returns_unheld_events_of_the_window_visible_to_the_user(agents):
    agent, other = agents[0], agents[1]
    too_old = await database_sync_to_async(notify)(agent.pk, "too old", age=90)
    held = await database_sync_to_async(notify)(agent.pk, "held")
    missed = await database_sync_to_async(notify)(agent.pk, "missed")
    await database_sync_to_async(notify)(other.pk, "someone else's")
    cursor = await database_sync_to_async(notify)(agent.pk, "cursor")
    after = await database_sync_to_async(notify)(agent.pk, "after")

    ws = await staff_socket(agent)
    reply = await resync(ws, cursor, [held])
    assert [e["id"] for e in reply["events"]] == [missed, after]
    assert reply["more"] is False
    # Without `have` the page holds nothing of the window: everything of it it may see, oldest first.
    assert [e["id"] for e in (await resync(ws, cursor))["events"]] == [held, missed, after]
    assert too_old < held
    await ws.disconnect()


async def test_widget_resync_returns_unheld_client_events_of_the_window(chat_line, agents):
    data = await database_sync_to_async(start)("site")
    ws = await widget("site", data["token"])
    await ws.send_json_to({"type": "message", "client_id": uuid.uuid4().hex, "text": "Hi"})
    await widget_receive_until(ws, "ack")
    await ws.disconnect()
    session = await database_sync_to_async(Session.objects.get)()

    def publish() -> dict[str, int]:
        ids = {}
        for position in (7, 8, 9):
            [row] = event_publish(
                type="queue.position", session=session, payload={"position": position}, for_client=True
            )
            ids[f"position {position}"] = row.pk
        [staff_only] = event_publish(type="session.updated", session=session, payload={})
        ids["staff only"] = staff_only.pk
        old = RealtimeEvent.objects.filter(chat_id=session.chat_id, for_client=True).exclude(
            pk__in=ids.values()
        )
        old.update(created_at=timezone.now() - datetime.timedelta(seconds=90))
        return ids

    ids = await database_sync_to_async(publish)()
    ws = await widget("site", data["token"])
    reply = await resync(ws, ids["staff only"], [ids["position 8"]])
    assert [(e["type"], e.get("position")) for e in reply["events"]] == [
        ("queue.position", 7),
        ("queue.position", 9),
    ]
    assert reply["more"] is False
    await ws.disconnect()


async def test_a_resync_answer_pages_at_500_events(agents):
    agent = agents[0]

    def many() -> list[int]:
        rows = RealtimeEvent.objects.bulk_create(
            [RealtimeEvent(user=agent, type="notification", payload={"n": n}) for n in range(523)]
        )
        return [row.pk for row in rows]

    ids = await database_sync_to_async(many)()
    ws = await staff_socket(agent)
    first = await resync(ws, 0, [])
    assert [e["id"] for e in first["events"]] == ids[:500]
    assert first["more"] is True
    cursor = first["events"][-1]["id"]
    second = await resync(ws, cursor, [e["id"] for e in first["events"]][-1000:])
    assert [e["id"] for e in second["events"]] == ids[500:]
    assert second["more"] is False
    await ws.disconnect()


BAD_HAVE = ["1,2", {"1": 2}, ["a"], [1.5], [True], [-1], list(range(1001)), None]


@pytest.mark.parametrize("have", BAD_HAVE, ids=lambda v: type(v).__name__ + str(len(str(v))))
async def test_a_bad_have_is_an_error_frame_and_the_staff_socket_stays_usable(agents, have):
    agent = agents[0]
    event_id = await database_sync_to_async(notify)(agent.pk, "one")
    ws = await staff_socket(agent)
    await ws.send_json_to({"type": "resync", "since": 0, "have": have})
    error = await ws.receive_json_from()
    assert error["type"] == "error" and "have" in error["error"]
    assert [e["id"] for e in (await resync(ws, 0, [1000]))["events"]] == [event_id]
    await ws.disconnect()


@pytest.mark.parametrize("have", BAD_HAVE, ids=lambda v: type(v).__name__ + str(len(str(v))))
async def test_a_bad_have_is_an_error_frame_and_the_widget_socket_stays_usable(chat_line, have):
    data = await database_sync_to_async(start)("site")
    ws = await widget("site", data["token"])
    await ws.send_json_to({"type": "resync", "since": 0, "have": have})
    error = await widget_receive_until(ws, "error")
    assert error["request"] == "resync" and error["errors"]["__all__"]
    assert (await resync(ws, 0, []))["events"] == []
    await ws.send_json_to({"type": "ping"})
    assert (await receive_until(ws, "pong"))["type"] == "pong"
    await ws.disconnect()


@pytest.fixture
def chat_line(make_line, agents):
    return make_line(queue=agents[:1], line_name="Website chat", vote_message=True, code="site")
