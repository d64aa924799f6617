"""The transactional outbox: an agent message stored while the task queue (Redis) is down is answered 201,
kept pending and sent exactly once when the queue is back; the timer loop's sweeper and duplicate tasks
never send twice; bot webhooks, KPI e-mails and exports lose nothing silently."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import redis
from django.utils import timezone
from django_q.conf import Conf

from contactcenter.background import (
    OUTBOX_RUN_TASK,
    outbox_task_add,
    outbox_task_run,
    run_pending_tasks,
)
from contactcenter.models import OutboundDelivery, OutboxTask
from contactcenter.services import outbound
from contactcenter.timers import registered_timers, run_due_timers
from openlines.models import ChatBot, OpenLine
from openlines.services import bots
from openlines.session_models import Message, Session
from tests.api.conftest import api_client, deliver, post
from tests.messengers.conftest import FakePlatform, make_connector, ok

pytestmark = pytest.mark.django_db(transaction=True)

REAL_CLIENT = httpx.Client
TG_OK = {"ok": True, "result": {"message_id": 500, "chat": {"id": 777}}}


@pytest.fixture(autouse=True)
def quiet_line(line):
    """No automatic texts, so the only outgoing messages are the agents'."""
    OpenLine.objects.filter(pk=line.pk).update(welcome_message=False, agreement_message=False)
    line.refresh_from_db()


@pytest.fixture
def telegram(line, monkeypatch):
    """A Telegram channel on the line, its Bot API answered by a recording mock."""
    import contactcenter.connectors.adapters as adapters_module

    fake = FakePlatform().on("POST", r"/sendMessage$", ok(TG_OK))
    monkeypatch.setattr(adapters_module, "_shared_client", fake.client)
    return make_connector(line, "telegram"), fake


def sweep(now=None) -> int:
    """One tick of the timer loop's outbound sweeper."""
    return registered_timers()["outbound_deliveries"](now or timezone.now())


def sweep_tasks(now=None) -> int:
    """One tick of the timer loop's outbox task sweeper."""
    return registered_timers()["outbox_tasks"](now or timezone.now())


def offered_session(write, connector, who: str) -> Session:
    return Session.objects.select_related("chat").get(pk=write("Hi", who=who, connector=connector).session.pk)


def agent_of(session: Session):
    return session.operator if session.operator_id else session.offers.first().user


def send_through_api(session: Session, text: str):
    return post(api_client(agent_of(session)), f"/api/v1/sessions/{session.pk}/messages/", {"text": text})


# --- Scaled mode against a Redis of the test's own ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OwnRedis:
    """A redis-server on a free port of 127.0.0.1, started and stopped by the test (never the shared one)."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                if redis.Redis.from_url(self.url, socket_timeout=0.5).ping():
                    return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def own_redis(tmp_path) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    server = OwnRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def scaled_mode(own_redis, settings, monkeypatch) -> OwnRedis:
    """The app's settings in the scaled mode, every Redis use (task queue, channel layer, cache) pointed
    at the test's own server."""
    prefix = f"outbox-fault-{own_redis.port}"
    settings.SCALED_MODE = True
    settings.REDIS_URL = own_redis.url
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": own_redis.url, "socket_timeout": 2}], "prefix": prefix},
        }
    }
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": own_redis.url,
            "KEY_PREFIX": prefix,
        }
    }
    kept = {key: value for key, value in settings.Q_CLUSTER.items() if key != "orm"}
    settings.Q_CLUSTER = {**kept, "redis": own_redis.url}
    # django-q2 reads its configuration once, at import.
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", own_redis.url)
    monkeypatch.setattr(Conf, "DJANGO_REDIS", None)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", f"{prefix}-tasks")
    return own_redis


def test_agent_replies_written_while_redis_is_down_are_stored_and_sent_once_when_it_is_back(
    scaled_mode, telegram, integrator, callbacks, write
):
    tg_connector, platform = telegram
    tg_session = offered_session(write, tg_connector, "tg-client")
    rest_session = offered_session(write, integrator.connector, "u-1")
    assert deliver() == 0  # nothing queued so far: client messages are not sent anywhere

    scaled_mode.stop()
    replies = {}
    for session in (tg_session, rest_session):
        response = send_through_api(session, f"Hello from us, {session.pk}")
        assert response.status_code == 201, response.content
        assert response.json()["delivery"] == "pending"
        replies[session.pk] = Message.objects.get(pk=response.json()["id"])
    assert platform.requests == [] and callbacks.requests == []
    for message in replies.values():
        delivery = OutboundDelivery.objects.get(message=message)
        # Written with the message; not queued, so due at once for the sweeper.
        assert delivery.status == "pending" and delivery.attempts == 0 and delivery.claimed_at is None
        assert delivery.next_attempt_at <= timezone.now()
    # While Redis is still down the sweeper claims nothing for good: what it could not queue stays due.
    run_due_timers()
    assert all(OutboundDelivery.objects.get(message=m).claimed_at is None for m in replies.values())

    scaled_mode.start()
    assert run_due_timers() >= 2  # the timer loop's sweeper queues both attempts in Redis
    assert run_pending_tasks() == 2  # a worker runs them
    assert sweep() == 0 and run_pending_tasks() == 0
    later = timezone.now() + timedelta(hours=2)
    assert sweep(later) == 0 and run_pending_tasks() == 0

    [tg_send] = platform.sent(r"/sendMessage$")
    assert b"Hello from us" in tg_send.content
    assert callbacks.texts() == [f"Hello from us, {rest_session.pk}"]
    for message in replies.values():
        assert OutboundDelivery.objects.get(message=message).status == "sent"
        assert Message.objects.get(pk=message.pk).delivery == "sent"


def test_the_fast_path_sends_at_once_when_redis_is_up(scaled_mode, integrator, callbacks, write):
    session = offered_session(write, integrator.connector, "u-1")
    response = send_through_api(session, "Quick")
    assert response.status_code == 201
    assert run_pending_tasks() == 1
    assert callbacks.texts() == ["Quick"]
    assert sweep(timezone.now() + timedelta(hours=2)) == 0 and run_pending_tasks() == 0
    assert Message.objects.get(pk=response.json()["id"]).delivery == "sent"


# --- The sweeper and duplicate tasks never send twice (embedded mode's queue) ------------------------------


def lose_the_queue(monkeypatch) -> None:
    def unreachable(*args, **kwargs):
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr("contactcenter.background.async_task", unreachable)


def test_two_sweeper_runs_never_send_twice(integrator, callbacks, write, monkeypatch):
    session = offered_session(write, integrator.connector, "u-1")
    with monkeypatch.context() as outage:
        lose_the_queue(outage)
        response = send_through_api(session, "Once")
        assert response.status_code == 201
    now = timezone.now() + timedelta(seconds=1)
    assert sweep(now) == 1
    assert sweep(now) == 0  # claimed by the first run
    assert sweep(now + timedelta(seconds=30)) == 0  # within the lease
    assert deliver() == 1
    assert callbacks.texts() == ["Once"]
    assert sweep(now + timedelta(hours=2)) == 0 and deliver() == 0
    assert len(callbacks.requests) == 1


def test_an_attempt_queued_twice_or_late_sends_once(integrator, callbacks, write, monkeypatch):
    session = offered_session(write, integrator.connector, "u-1")
    queued = []
    with monkeypatch.context() as recording:
        recording.setattr("contactcenter.background.async_task", lambda f, *a, **k: queued.append((f, k)))
        send_through_api(session, "Once")
    [(func, kwargs)] = queued
    assert func == outbound.ATTEMPT_TASK
    # The worker that took the first task died; after the lease the sweeper queues it again.
    delivery = OutboundDelivery.objects.get(pk=kwargs["delivery_id"])
    assert sweep(delivery.next_attempt_at) == 1
    requeued = OutboundDelivery.objects.get(pk=delivery.pk).next_attempt_at
    # The late first task finds its claim taken: it sends nothing.
    assert outbound.outbound_delivery_attempt(**kwargs) == "pending"
    assert callbacks.requests == []
    assert outbound.outbound_delivery_attempt(delivery_id=delivery.pk, claim=requeued) == "sent"
    # The same task delivered twice by the queue: the second run does nothing.
    assert outbound.outbound_delivery_attempt(delivery_id=delivery.pk, claim=requeued) == "sent"
    assert len(callbacks.requests) == 1


# --- Bot webhooks, KPI e-mails and exports ---------------------------------------------------------------


@pytest.fixture
def webhook_bot(line):
    bot = ChatBot.objects.create(name="Helper", kind=ChatBot.Kind.WEBHOOK, webhook_url="https://bot.example/hook")
    line.welcome_bot_enable = True
    line.welcome_bot = bot
    line.welcome_bot_time = 0
    line.save()
    return bot


def bot_endpoint(monkeypatch, *replies: int) -> list[dict]:
    """The bot's endpoint: answers `replies` in order, then 200; returns the events it received."""
    import json

    received: list[dict] = []
    answers = list(replies)

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(json.loads(request.content))
        return httpx.Response(answers.pop(0) if answers else 200)

    transport = httpx.MockTransport(handler)
    monkeypatch.setattr(bots.httpx, "Client", lambda **kw: REAL_CLIENT(transport=transport))
    return received


def test_a_bot_event_caused_while_the_queue_is_down_is_posted_when_the_sweeper_runs(
    webhook_bot, write, monkeypatch
):
    received = bot_endpoint(monkeypatch)
    with monkeypatch.context() as outage:
        lose_the_queue(outage)
        session = write("Hi", who="client-1").session  # the bot joins: a session.start event
    [task] = OutboxTask.objects.all()
    assert task.func == "openlines.tasks.bot_webhook_post" and task.next_attempt_at <= timezone.now()
    assert received == []
    now = timezone.now() + timedelta(seconds=1)
    assert sweep_tasks(now) >= 1 and sweep_tasks(now) == 0
    deliver()
    assert [(e["event"], e["session_id"]) for e in received] == [("session.start", session.pk)]
    assert not OutboxTask.objects.exists()


def test_a_bot_webhook_answering_5xx_is_retried_with_backoff_and_a_4xx_is_final(
    webhook_bot, write, monkeypatch
):
    received = bot_endpoint(monkeypatch, 503, 200)
    write("Hi", who="client-1")
    deliver()
    [task] = OutboxTask.objects.all()
    assert task.attempts == 1 and "HTTP 503" in task.last_error and task.status == "pending"
    assert 24 <= (task.next_attempt_at - timezone.now()).total_seconds() <= 36
    assert sweep_tasks(task.next_attempt_at - timedelta(seconds=1)) == 0
    sweep_tasks(task.next_attempt_at)
    deliver()
    assert len(received) == 2 and not OutboxTask.objects.exists()

    received = bot_endpoint(monkeypatch, 404)
    write("Hi", who="client-2")
    deliver()
    assert len(received) == 1 and not OutboxTask.objects.exists()  # refused: not retried


def test_an_outbox_task_that_keeps_failing_is_kept_as_failed_with_its_error(db, monkeypatch):
    monkeypatch.setattr("contactcenter.background.async_task", lambda *a, **k: None)
    task = outbox_task_add("tests.api.test_outbox.always_fails", 1)
    claim = task.next_attempt_at
    for _attempt in range(8):
        assert outbox_task_run(task.pk, claim) in ("retrying", "failed")
        task.refresh_from_db()
        claim = task.next_attempt_at
        if task.status == "failed":
            break
        sweep_tasks(claim)
        claim = OutboxTask.objects.get(pk=task.pk).next_attempt_at
    task.refresh_from_db()
    assert task.status == "failed" and task.attempts == 8 and "boom 1" in task.last_error
    assert sweep_tasks(timezone.now() + timedelta(days=1)) == 0


def always_fails(n: int) -> None:
    raise RuntimeError(f"boom {n}")


def test_an_outbox_task_runs_once_for_two_runs_with_the_same_claim(db, monkeypatch):
    monkeypatch.setattr("contactcenter.background.async_task", lambda *a, **k: None)
    calls.clear()
    task = outbox_task_add("tests.api.test_outbox.count_call", "x")
    assert outbox_task_run(task.pk, task.next_attempt_at) == "done"
    assert outbox_task_run(task.pk, task.next_attempt_at) == "not claimed"
    assert calls == ["x"]
    assert OUTBOX_RUN_TASK == "contactcenter.background.outbox_task_run"


calls: list[str] = []


def count_call(value: str) -> None:
    calls.append(value)
