"""The timer loop and the task runner: real database rows, no in-memory fakes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Success

from contactcenter.background import embedded_task_runner, run_pending_tasks, task_enqueue
from contactcenter.models import Presence
from contactcenter.services.availability import presence_connect
from contactcenter.signals import availability_changed
from contactcenter.timers import run_due_timers

pytestmark = pytest.mark.django_db(transaction=True)

executed: list[int] = []


def record(value: int) -> int:
    executed.append(value)
    return value * 2


def test_enqueued_task_waits_for_commit_then_runs():
    executed.clear()
    broker = get_broker()
    broker.purge_queue()
    task_enqueue("tests.contactcenter.test_background.record", 21)
    assert broker.queue_size() == 1
    assert run_pending_tasks() == 1
    assert executed == [21]
    assert Success.objects.get().result == 42
    assert broker.queue_size() == 0


@pytest.mark.skipif(settings.SCALED_MODE, reason="the embedded runner exists only in the embedded mode")
async def test_embedded_runner_is_woken_by_an_enqueue():
    executed.clear()
    stop = asyncio.Event()
    runner = asyncio.create_task(embedded_task_runner(stop))
    await asyncio.sleep(0.3)
    started = asyncio.get_running_loop().time()
    await sync_to_async(task_enqueue)("tests.contactcenter.test_background.record", 5)
    while not executed and asyncio.get_running_loop().time() - started < 5:
        await asyncio.sleep(0.02)
    elapsed = asyncio.get_running_loop().time() - started
    stop.set()
    await asyncio.wait_for(runner, 5)
    assert executed == [5]
    # Far below the idle wait: the enqueue woke the runner instead of it finding the task later.
    assert elapsed < 1.0


def test_stale_presence_expires_once_and_is_announced(agent, settings):
    settings.PRESENCE_IDLE_SECONDS = 60
    presence_connect(user_id=agent.pk, at=timezone.now() - timedelta(minutes=5))
    announced = []

    def receiver(sender, **kwargs):
        announced.append((kwargs["user_id"], kwargs["available"]))

    availability_changed.connect(receiver)
    try:
        assert run_due_timers() == 1
        assert run_due_timers() == 0
    finally:
        availability_changed.disconnect(receiver)
    assert announced == [(agent.pk, False)]
    assert Presence.objects.get(user=agent).last_seen is None
