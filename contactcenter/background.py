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
import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta
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
from contactcenter.models import OutboxTask
from contactcenter.timers import register_timer

logger = logging.getLogger(__name__)

# Set by the embedded runner while it runs, so an enqueue wakes it at once instead of on its next tick.
_wake: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None

IDLE_WAIT_SECONDS = 2.0
HEARTBEAT_EVERY_SECONDS = 5.0


def task_enqueue(func: str, *args: Any, **kwargs: Any) -> None:
    """Queue `func` (a dotted path) once the current transaction commits; a broker that cannot be reached
    raises. For work that must not be lost use `task_enqueue_fast` with a row a sweeper finds, or
    `outbox_task_add`."""

    def push() -> None:
        async_task(func, *args, **kwargs)
        _wake_runner()

    transaction.on_commit(push)


def task_enqueue_fast(
    func: str, *args: Any, on_failure: Callable[[], None] | None = None, **kwargs: Any
) -> None:
    """Queue `func` once the current transaction commits, as a fast path only: the caller has written a
    row in that transaction that a sweeper of the timer loop finds if this push is lost. A broker that
    cannot be reached (Redis down) is logged and `on_failure` runs (e.g. to make the row due at once); it
    never turns the committed change into an error."""

    def push() -> None:
        try:
            async_task(func, *args, **kwargs)
        except Exception:
            logger.warning("could not queue %s; the timer loop will queue it again", func, exc_info=True)
            if on_failure is not None:
                try:
                    on_failure()
                except Exception:
                    logger.exception("after failing to queue %s", func)
            return
        _wake_runner()

    transaction.on_commit(push, robust=True)


# --- The transactional outbox for tasks that must not be lost -------------------------------------------

OUTBOX_RUN_TASK = "contactcenter.background.outbox_task_run"
OUTBOX_MAX_ATTEMPTS = 8
OUTBOX_FIRST_RETRY_SECONDS = 30.0
# A run (an HTTP request or an e-mail) takes far less; after this a claimed task is due again.
OUTBOX_LEASE = timedelta(minutes=2)
OUTBOX_BATCH = 200


def outbox_task_add(func: str, *args: Any) -> OutboxTask:
    """Write a task in the current transaction (the outbox) and queue it after commit (the fast path).

    `func` must be idempotent enough to run again after a crash, and raise to be retried (with backoff, at
    most `OUTBOX_MAX_ATTEMPTS` runs). Arguments must be JSON-serialisable.
    """
    claim = timezone.now() + OUTBOX_LEASE
    task = OutboxTask.objects.create(func=func, args=list(args), next_attempt_at=claim)
    _outbox_enqueue(task.pk, claim)
    return task


def _outbox_enqueue(task_id: int, claim: datetime) -> None:
    def release() -> None:
        OutboxTask.objects.filter(pk=task_id, next_attempt_at=claim).update(next_attempt_at=timezone.now())

    task_enqueue_fast(OUTBOX_RUN_TASK, task_id, claim, on_failure=release)


def outbox_task_run(task_id: int, claim: datetime) -> str:
    """Task body: run one outbox task if this run still holds its claim; returns what became of it.

    The claim is taken again at the start (an optimistic update from the value it was queued with), so a
    task queued twice, or re-queued by the sweeper after its lease while the first run was late, runs once.
    """
    now = timezone.now()
    lease = now + OUTBOX_LEASE
    mine = OutboxTask.objects.filter(pk=task_id, status=OutboxTask.Status.PENDING, next_attempt_at=claim)
    if not mine.update(next_attempt_at=lease):
        return "not claimed"
    task = OutboxTask.objects.get(pk=task_id)
    try:
        target = pydoc.locate(task.func)
        if not callable(target):
            raise ValueError(f"Function {task.func} is not defined")
        target(*task.args)
    except Exception as error:
        logger.warning("outbox task %s (%s) failed", task.pk, task.func, exc_info=True)
        attempts = task.attempts + 1
        failed = attempts >= OUTBOX_MAX_ATTEMPTS
        OutboxTask.objects.filter(pk=task.pk, next_attempt_at=lease).update(
            attempts=attempts,
            last_error=f"{type(error).__name__}: {error}"[:500],
            status=OutboxTask.Status.FAILED if failed else OutboxTask.Status.PENDING,
            next_attempt_at=None
            if failed
            else timezone.now() + timedelta(seconds=_outbox_retry_seconds(attempts)),
        )
        if failed:
            logger.error("outbox task %s (%s) given up after %d attempts", task.pk, task.func, attempts)
        return "failed" if failed else "retrying"
    OutboxTask.objects.filter(pk=task.pk).delete()
    return "done"


def _outbox_retry_seconds(attempts: int) -> float:
    base = OUTBOX_FIRST_RETRY_SECONDS * 2 ** (attempts - 1)
    return base * random.uniform(0.8, 1.2)


@register_timer("outbox_tasks")
def outbox_tasks_claim(now: datetime) -> int:
    """Queue outbox tasks that are due (their fast path was lost, their lease ran out, or a retry is due),
    claimed by moving `next_attempt_at` a lease ahead conditioned on the value read, so several timer
    processes never queue one twice."""
    due = (
        OutboxTask.objects.filter(status=OutboxTask.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", "next_attempt_at")[:OUTBOX_BATCH]
    )
    claimed = 0
    for pk, seen in list(due):
        claim = now + OUTBOX_LEASE
        if OutboxTask.objects.filter(
            pk=pk, status=OutboxTask.Status.PENDING, next_attempt_at=seen
        ).update(next_attempt_at=claim):
            _outbox_enqueue(pk, claim)
            claimed += 1
    return claimed


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
