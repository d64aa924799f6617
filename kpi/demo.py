"""Demo history: last week's conversations on the demo line, played through the real engine.

A supervisor opening a fresh demo should find late and badly rated conversations to review, and figures
that can be checked by hand (docs/metrics.md, "Worked example"). Rather than writing rows with invented
figures, each scripted conversation goes through the services the widget, the workspace and the timer
loop use, with the clock set to last week; every figure shown is then the engine's own.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from unittest import mock

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from contactcenter.timers import run_due_timers
from kpi.services.clocks import overdue_mails_muted
from kpi.services.ratings import session_head_vote
from openlines.demo import DEMO_LINE_CODE
from openlines.models import OpenLine
from openlines.services import actions
from openlines.services.livechat import (
    Visitor,
    livechat_contact_save,
    livechat_message_receive,
    livechat_rate,
    visitor_token_create,
)
from openlines.services.transcripts import transcript_mails_muted
from openlines.session_models import Session

TICK_SECONDS = 5  # how often the simulated timer loop runs between two steps
SETTLE_AFTER = (timedelta(minutes=10), timedelta(hours=1), timedelta(days=1))

DEMO_KPI = {
    "kpi_first_answer_time": 120,
    "kpi_first_answer_alert": True,
    "kpi_further_answer_time": 300,
    "kpi_further_answer_alert": True,
}


@dataclass(frozen=True)
class Step:
    at: int  # seconds after the conversation starts
    action: str  # write | answer | reply | close | rate | head_vote
    text: str = ""
    vote: str | int = ""


@dataclass(frozen=True)
class DemoConversation:
    weekday: int  # 0 = Monday of last week
    start: time
    client: str
    email: str
    agent: str
    steps: tuple[Step, ...]


def _chat(agent: str, first: int, *replies: tuple[int, int], close: int, vote: str = "") -> tuple[Step, ...]:
    """Client writes at 0, the agent answers at `first`; each (client at, agent at) pair is one more
    question and its answer; the agent closes at `close`; the client rates 20 s later."""
    steps = [
        Step(0, "write", "Hello, I have a question about my order."),
        Step(first, "answer", "Hello! Let me check."),
    ]
    for n, (asked, answered) in enumerate(replies, start=1):
        steps += [Step(asked, "write", f"One more thing ({n}): can I change the delivery address?")]
        steps += [Step(answered, "reply", "Yes, I have changed it for you.")]
    steps.append(Step(close, "close"))
    if vote:
        steps.append(Step(close + 20, "rate", vote=vote))
    return tuple(steps)


CONVERSATIONS: tuple[DemoConversation, ...] = (
    # Answered in time both times, liked. First 40 s, further 60 s: average 50 s, maximum 60 s.
    DemoConversation(
        0,
        time(9, 12),
        "Petra Svobodová",
        "petra@example.com",
        "agent1",
        _chat("agent1", 40, (100, 160), close=220, vote="like"),
    ),
    # First answer late (210 s > 120 s), disliked, rated two stars by the supervisor.
    DemoConversation(
        0,
        time(11, 30),
        "Marco Rossi",
        "marco@example.com",
        "agent2",
        (
            *_chat("agent2", 210, (260, 320), close=400, vote="dislike"),
            Step(3600, "head_vote", "Answered three and a half minutes late.", 2),
        ),
    ),
    # Further answer late (420 s > 300 s), disliked.
    DemoConversation(
        1,
        time(10, 5),
        "Nguyen Van An",
        "an@example.com",
        "agent1",
        _chat("agent1", 30, (60, 480), close=540, vote="dislike"),
    ),
    DemoConversation(
        1,
        time(14, 20),
        "Anna Kowalska",
        "anna@example.com",
        "agent2",
        _chat("agent2", 20, close=100, vote="like"),
    ),
    DemoConversation(
        2,
        time(9, 45),
        "Ivan Petrov",
        "ivan@example.com",
        "agent1",
        (
            *_chat("agent1", 60, (120, 150), (200, 260), close=300, vote="like"),
            Step(3600, "head_vote", "Friendly and quick.", 5),
        ),
    ),
    DemoConversation(
        2, time(16, 10), "Lucie Dvořáková", "lucie@example.com", "agent2", _chat("agent2", 100, close=160)
    ),
    # First answer late (150 s), liked all the same.
    DemoConversation(
        3,
        time(10, 30),
        "Giulia Bianchi",
        "giulia@example.com",
        "agent1",
        _chat("agent1", 150, close=220, vote="like"),
    ),
    # In time, disliked.
    DemoConversation(
        3,
        time(13, 0),
        "Tran Thi Mai",
        "mai@example.com",
        "agent2",
        _chat("agent2", 25, (40, 50), close=90, vote="dislike"),
    ),
    DemoConversation(
        4,
        time(9, 0),
        "Piotr Zieliński",
        "piotr@example.com",
        "agent1",
        _chat("agent1", 35, close=80, vote="like"),
    ),
    # Further answer late (330 - 20 = 310 s > 300 s), not rated.
    DemoConversation(
        4,
        time(15, 40),
        "Olga Smirnova",
        "olga@example.com",
        "agent2",
        _chat("agent2", 90, (120, 430), close=500),
    ),
)


class SimulatedClock:
    """`timezone.now()` for the engine while a past conversation is replayed."""

    def __init__(self, start: datetime) -> None:
        self.value = start

    def __call__(self) -> datetime:
        return self.value

    def move_to(self, moment: datetime) -> None:
        """Advance to `moment`, running the timer loop every few seconds on the way, as `serve` does."""
        while self.value < moment:
            self.value = min(moment, self.value + timedelta(seconds=TICK_SECONDS))
            run_due_timers(self.value)


@contextlib.contextmanager
def simulated_clock(start: datetime) -> Iterator[SimulatedClock]:
    clock = SimulatedClock(start)
    with mock.patch.object(timezone, "now", clock):
        yield clock


def last_monday(today: date) -> date:
    return today - timedelta(days=today.weekday() + 7)


def _play(conversation: DemoConversation, line: OpenLine, start: datetime, clock: SimulatedClock) -> Session:
    users = get_user_model().objects
    agent = users.get(username=conversation.agent)
    token_visitor: tuple[str, Visitor] = visitor_token_create(line=line)
    visitor = token_visitor[1]
    livechat_contact_save(
        line=line, visitor=visitor, name=conversation.client, email=conversation.email, phone=""
    )
    session: Session | None = None
    for step in conversation.steps:
        clock.move_to(start + timedelta(seconds=step.at))
        with transaction.atomic():
            if step.action == "write":
                result = livechat_message_receive(
                    line=line, visitor=visitor, client_message_id=uuid.uuid4().hex, text=step.text
                )
                session = result.session
                continue
            assert session is not None, "a conversation starts with the client's message"
            if step.action == "answer":
                actions.session_answer(user=agent, session_id=session.pk)
                actions.message_send(user=agent, session_id=session.pk, text=step.text)
            elif step.action == "reply":
                actions.message_send(user=agent, session_id=session.pk, text=step.text)
            elif step.action == "close":
                actions.session_close(user=agent, session_id=session.pk, confirmed=True)
            elif step.action == "rate":
                livechat_rate(line=line, visitor=visitor, vote=str(step.vote))
            elif step.action == "head_vote":
                session_head_vote(
                    user=users.get(username="supervisor"),
                    session_id=session.pk,
                    vote=int(step.vote),
                    comment=step.text,
                )
    assert session is not None
    return session


def kpi_demo_history_load(today: date | None = None) -> list[Session]:
    """Play last week's demo conversations on the demo line (after the demo's own data is committed)."""
    line = OpenLine.objects.filter(code=DEMO_LINE_CODE).first()
    supervisor = get_user_model().objects.filter(username="supervisor").first()
    if line is None or supervisor is None:
        return []
    for name, value in DEMO_KPI.items():
        setattr(line, name, value)
    line.save(update_fields=list(DEMO_KPI))
    line.kpi_first_answer_list.set([supervisor])
    line.kpi_further_answer_list.set([supervisor])
    monday = last_monday(today or timezone.localdate())
    zone = timezone.get_current_timezone()
    starts = [
        datetime.combine(monday + timedelta(days=c.weekday), c.start, tzinfo=zone) for c in CONVERSATIONS
    ]
    played = []
    with simulated_clock(starts[0]) as clock, overdue_mails_muted(), transcript_mails_muted():
        for conversation, start, following in zip(CONVERSATIONS, starts, [*starts[1:], None], strict=True):
            played.append(_play(conversation, line, start, clock))
            # Let the closing deadlines (rating wait, auto close) fall due, in big steps, before the next one.
            for pause in SETTLE_AFTER:
                moment = start + pause if following is None else min(start + pause, following)
                clock.value = max(clock.value, moment)
                run_due_timers(clock.value)
    return played
