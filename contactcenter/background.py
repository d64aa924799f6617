"""Background tasks through django-q2, with one runner per runtime mode.

Scaled mode: tasks go to the Redis broker and `manage.py qcluster` processes run them.
Embedded mode: tasks go to django-q2's database broker and the runner inside `serve` executes them in
the web process. It must be that process: the in-memory channel layer does not cross processes, so a
task that pushes to browsers from anywhere else would be lost.
"""

from __future__ import annotations

import asyncio
import logging
import pydoc
import time
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone
from django_q.brokers import Broker, get_broker
from django_q.monitor import save_task
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from contactcenter.heartbeats import TASKS, heartbeat_beat, heartbeat_forget

logger = logging.getLogger(__name__)

# Set by the embedded runner while it runs, so an enqueue wakes it at once instead of on its next tick.
_wake: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

IDLE_WAIT_SECONDS = 2.0
HEARTBEAT_EVERY_SECONDS = 5.0


def task_enqueue(func: str, *args: Any, **kwargs: Any) -> None:
    """Queue `func` (a dotted path) once the current transaction commits."""

    def push() -> None:
        async_task(func, *args, **kwargs)
        _wake_runner()

    transaction.on_commit(push)


def _wake_runner() -> None:
    if _wake is not None:
        loop, event = _wake
        loop.call_soon_threadsafe(event.set)


def _execute(broker: Broker, task_id: Any, payload: str) -> None:
    task = SignedPackage.loads(payload)
    func = task["func"]
    if not callable(func):
        func = pydoc.locate(func)
    try:
        if func is None:
            raise ValueError(f"Function {task['func']} is not defined")
        task["result"], task["success"] = func(*task["args"], **task["kwargs"]), True
    except Exception as exc:
        logger.exception("background task %s failed", task.get("name"))
        task["result"], task["success"] = repr(exc), False
    task["stopped"] = timezone.now()
    save_task(task, broker)
    broker.acknowledge(task_id)


def run_pending_tasks(max_tasks: int = 1000) -> int:
    """Run queued tasks in this thread until the queue is empty; returns how many ran."""
    broker = get_broker()
    done = 0
    try:
        while done < max_tasks and broker.queue_size():
            for task_id, payload in broker.dequeue() or []:
                _execute(broker, task_id, payload)
                done += 1
    finally:
        close_old_connections()
    return done


def _runner_tick(last_beat: float) -> tuple[int, float]:
    ran = run_pending_tasks()
    if time.monotonic() - last_beat >= HEARTBEAT_EVERY_SECONDS:
        heartbeat_beat(name=TASKS)
        close_old_connections()
        last_beat = time.monotonic()
    return ran, last_beat


async def embedded_task_runner(stop: asyncio.Event) -> None:
    """Executes queued tasks in this process until `stop` is set (embedded mode only)."""
    global _wake
    if settings.SCALED_MODE:
        raise RuntimeError("the embedded task runner is for the embedded mode; run qcluster instead")
    wake = asyncio.Event()
    _wake = (asyncio.get_running_loop(), wake)
    last_beat = float("-inf")
    logger.info("embedded task runner started")
    try:
        while not stop.is_set():
            try:
                ran, last_beat = await sync_to_async(_runner_tick, thread_sensitive=False)(last_beat)
            except Exception:
                logger.exception("task runner tick failed")
                ran = 0
            if ran:
                continue
            wake.clear()
            # Tasks enqueued in this process set `wake`; the timeout covers tasks queued by other
            # processes (management commands) and failed tasks whose lock expired.
            waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waiters, timeout=IDLE_WAIT_SECONDS, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
    finally:
        _wake = None
        await sync_to_async(heartbeat_forget, thread_sensitive=False)(name=TASKS)
        logger.info("embedded task runner stopped")
