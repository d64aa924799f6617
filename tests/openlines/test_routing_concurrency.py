"""Routing under concurrency: simultaneous enquiries and simultaneous answers, each thread on its own
database connection, started together by a barrier.

On PostgreSQL: 200 new clients write at the same instant to a line with 10 available agents and
`max_chat = 5` ("evenly"); a watcher thread samples every agent's load while it happens. Exactly 50 are
assigned, 150 wait; then the agents answer and close concurrently and the waiting ones are handed out as
slots free, oldest first. On SQLite (one writer at a time) a 20-client version shows that the busy
timeout and IMMEDIATE transactions queue the writers instead of failing with "database is locked".

The PostgreSQL pool bounds the physical connections (DATABASE_POOL_MAX_SIZE, default 20): the 200 threads
start together and wait for a connection from the pool as a burst of web requests would. Enquiries of one
line are routed one at a time (the line lock), so the test gives the pool a patient timeout instead of the
default 10 s: it is about correctness; throughput is measured by bench/routing.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.db.models import Count, Min

from contactcenter.models import Connector, EmployeeProfile
from contactcenter.services.availability import presence_connect
from openlines.models import OpenLine, QueueMember
from openlines.services import actions
from openlines.services.ingest import InboundClient, InboundMessage, message_ingest
from openlines.session_models import RealtimeEvent, Session, SessionOffer, SessionStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="200 concurrent writers need PostgreSQL; SQLite runs one writer at a time (see its variant)",
)
needs_row_locks = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="interleaves two transactions between a read and a row lock; SQLite runs one writer at a time",
)
on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite variant of the storm")


@pytest.fixture(autouse=True)
def patient_pool():
    if connection.vendor != "postgresql":
        yield
        return
    options = connection.settings_dict["OPTIONS"]
    original = options["pool"]
    connections.close_all()
    connection.close_pool()
    options["pool"] = {**original, "timeout": 300}
    yield
    connections.close_all()
    connection.close_pool()
    options["pool"] = original


def run_together(workers: list[Callable[[], Any]], timeout: float = 120.0) -> list[BaseException]:
    """Run each worker in its own thread (own database connection), all released by one barrier."""
    barrier = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(worker: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            worker()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    assert not any(thread.is_alive() for thread in threads), "workers still running after the timeout"
    return errors


@dataclass
class LoadWatcher:
    """Samples the highest load of any agent on the line (sessions that count toward `max_chat`)."""

    line_id: int
    counts_below: int
    samples: int = 0
    highest: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def sample(self) -> None:
        loads = (
            Session.objects.filter(
                line_id=self.line_id, closed=False, operator__isnull=False, status__lt=self.counts_below
            )
            .values("operator_id")
            .annotate(n=Count("id"))
            .values_list("n", flat=True)
        )
        self.highest = max([self.highest, *loads])
        self.samples += 1

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.sample()
                time.sleep(0.002)
        finally:
            connections.close_all()

    def __enter__(self) -> LoadWatcher:
        self.thread = threading.Thread(target=self.run)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def make_line(
    *, agents: int, max_chat: int, queue_type: str = OpenLine.QueueType.EVENLY
) -> tuple[OpenLine, list[Any]]:
    line = OpenLine.objects.create(
        line_name="Storm", language_id="en", queue_type=queue_type, max_chat=max_chat
    )
    users = []
    for i in range(agents):
        user = get_user_model().objects.create_user(username=f"storm-agent{i}", first_name=f"Agent{i}")
        EmployeeProfile.objects.create(user=user)
        presence_connect(user_id=user.pk)
        QueueMember.objects.create(line=line, user=user, sort=i)
        users.append(user)
    Connector.objects.create(kind="rest", line=line, name="REST")
    return line, users


def client_writes(line: OpenLine, who: str) -> Callable[[], None]:
    connector = Connector.objects.get(line=line)

    def write() -> None:
        message_ingest(
            connector=connector,
            client=InboundClient(external_id=who, name=who),
            message=InboundMessage(external_id=f"{who}-1", text="Hello"),
        )

    return write


def agent_works_through_the_queue(user: Any, line: OpenLine, deadline: float) -> Callable[[], None]:
    """An agent answers, replies to and closes each conversation they get, until nobody waits."""

    def work() -> None:
        while time.monotonic() < deadline:
            mine = list(
                Session.objects.filter(
                    line=line, operator_id=user.pk, closed=False, status__lt=SessionStatus.WAIT_CLIENT
                )
                .order_by("id")
                .values_list("pk", flat=True)
            )
            if not mine:
                if not Session.objects.filter(line=line, status__lt=SessionStatus.WAIT_CLIENT).exists():
                    return
                time.sleep(0.005)
                continue
            for session_id in mine:
                try:
                    actions.session_answer(user=user, session_id=session_id)
                except actions.ActionRefused:
                    pass  # answered on an earlier pass
                actions.message_send(user=user, session_id=session_id, text="Done, anything else?")
                actions.session_close(user=user, session_id=session_id)

    return work


def storm(*, clients: int, agents: int, max_chat: int) -> None:
    line, users = make_line(agents=agents, max_chat=max_chat)
    counts_below = SessionStatus.OPERATOR  # type_max_chat "answered" (the default): STATUS < 40 counts

    with LoadWatcher(line.pk, counts_below) as watcher:
        errors = run_together([client_writes(line, f"storm-client-{i}") for i in range(clients)])
    assert not errors, errors[:3]
    assert watcher.samples > 0 and watcher.highest <= max_chat

    capacity = agents * max_chat
    assert Session.objects.filter(line=line).count() == clients
    loads = dict(
        Session.objects.filter(line=line, operator__isnull=False)
        .values_list("operator_id")
        .annotate(n=Count("id"))
        .values_list("operator_id", "n")
    )
    assert loads == {user.pk: max_chat for user in users}
    waiting = list(
        Session.objects.filter(line=line, undistributed=True).order_by("id").values_list("pk", flat=True)
    )
    assert len(waiting) == clients - capacity
    assert not Session.objects.filter(pk__in=waiting, offers__isnull=False).exists()

    # The agents work concurrently; each freed slot pulls the oldest waiting enquiry.
    deadline = time.monotonic() + 120
    with LoadWatcher(line.pk, counts_below) as watcher:
        errors = run_together(
            [agent_works_through_the_queue(user, line, deadline) for user in users], timeout=150
        )
    assert not errors, errors[:3]
    assert watcher.highest <= max_chat
    assert not Session.objects.filter(line=line, status__lt=SessionStatus.WAIT_CLIENT).exists()
    assert not Session.objects.filter(line=line, undistributed=True).exists()
    # First come, first served: the waiting enquiries were offered in the order they arrived. Offer events
    # are written under the line lock, so their ids give the order in which the router handed them out.
    first_offer = dict(
        RealtimeEvent.objects.filter(session_id__in=waiting, type="offer.new", user__isnull=True)
        .values_list("session_id")
        .annotate(first=Min("id"))
        .values_list("session_id", "first")
    )
    assert sorted(waiting, key=first_offer.__getitem__) == waiting


@on_postgresql
def test_200_simultaneous_enquiries_never_push_an_agent_past_max_chat_and_the_rest_wait_in_order():
    storm(clients=200, agents=10, max_chat=5)


@on_sqlite
def test_simultaneous_enquiries_on_sqlite_queue_up_instead_of_locking_the_database():
    storm(clients=20, agents=4, max_chat=2)


@pytest.mark.parametrize("round_", range(10))
def test_two_agents_answering_the_same_to_everybody_offer_at_once_only_one_gets_it(round_):
    line, users = make_line(agents=2, max_chat=0, queue_type=OpenLine.QueueType.ALL)
    client_writes(line, "client")()
    session = Session.objects.get(line=line)
    assert set(SessionOffer.objects.filter(session=session).values_list("user_id", flat=True)) == {
        u.pk for u in users
    }
    outcomes: dict[int, str] = {}

    def answer(user: Any) -> Callable[[], None]:
        def run() -> None:
            try:
                actions.session_answer(user=user, session_id=session.pk)
                outcomes[user.pk] = "won"
            except actions.ActionRefused:
                outcomes[user.pk] = "refused"

        return run

    errors = run_together([answer(user) for user in users])
    assert not errors, errors
    assert sorted(outcomes.values()) == ["refused", "won"]
    winner = next(uid for uid, outcome in outcomes.items() if outcome == "won")
    s = Session.objects.get(pk=session.pk)
    assert s.operator_id == winner and not s.wait_answer and s.status == SessionStatus.ANSWER
    assert not SessionOffer.objects.filter(session=session).exists()


@needs_row_locks
def test_two_lines_routing_to_the_same_agent_at_once_respect_the_global_cap(monkeypatch):
    from openlines.services import routing

    monkeypatch.setattr(routing, "GLOBAL_MAX_CHAT", 1)
    first, (agent,) = make_line(agents=1, max_chat=0)
    second = OpenLine.objects.create(
        line_name="Second", language_id="en", queue_type=OpenLine.QueueType.EVENLY
    )
    QueueMember.objects.create(line=second, user=agent, sort=0)
    Connector.objects.create(kind="rest", line=second, name="Second")
    # Both enquiries read the agent's load (0 of 1) before either assigns: the widest possible race.
    both_read = threading.Barrier(2)
    read_loads = routing.Eligibility.first

    waited: set[int] = set()

    def read_then_wait(self, candidates):
        eligible = read_loads(self, candidates)
        # Only each thread's first read waits for the other's; a later read (redistribution after the
        # assignment) must not, or it waits for a thread that is blocked on the lock it holds.
        if threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            try:
                both_read.wait(timeout=30)
            except threading.BrokenBarrierError:
                pass  # the other thread is serialised behind our lock: the race is narrower, still checked
        return eligible

    monkeypatch.setattr(routing.Eligibility, "first", read_then_wait)
    errors = run_together([client_writes(first, "client-a"), client_writes(second, "client-b")])
    assert not errors, errors
    assert Session.objects.filter(operator=agent, closed=False).count() == 1
    assert Session.objects.filter(undistributed=True, operator__isnull=True).count() == 1
