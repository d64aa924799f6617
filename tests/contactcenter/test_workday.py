"""Work day transitions, their history, and the availability events they announce."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from contactcenter.models import WorkDay
from contactcenter.services.availability import (
    presence_connect,
    presence_disconnect,
    work_day_clock_in,
    work_day_clock_out,
    work_day_pause,
    work_day_resume,
)
from contactcenter.signals import availability_changed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def announced():
    events = []

    def receiver(sender, **kwargs):
        events.append((kwargs["user_id"], kwargs["available"], kwargs["reason"]))

    availability_changed.connect(receiver)
    yield events
    availability_changed.disconnect(receiver)


def test_work_day_history_records_every_step(agent):
    work_day_clock_in(user_id=agent.pk)
    work_day_pause(user_id=agent.pk)
    work_day_resume(user_id=agent.pk)
    day = work_day_clock_out(user_id=agent.pk)
    assert day.state == WorkDay.State.CLOSED
    assert [e.kind for e in day.events.all()] == ["clock_in", "pause", "resume", "clock_out"]


def test_cannot_clock_in_twice(agent):
    work_day_clock_in(user_id=agent.pk)
    with pytest.raises(ValidationError):
        work_day_clock_in(user_id=agent.pk)


def test_cannot_pause_without_an_open_day(agent):
    with pytest.raises(ValidationError):
        work_day_pause(user_id=agent.pk)


def test_changes_are_announced_after_commit(agent, announced):
    work_day_clock_in(user_id=agent.pk)
    work_day_pause(user_id=agent.pk)
    work_day_clock_out(user_id=agent.pk)
    assert announced == [
        (agent.pk, True, ""),
        (agent.pk, False, "nonworking"),
        (agent.pk, False, "nonworking"),
    ]


def test_presence_announces_only_edges(agent, announced):
    presence_connect(user_id=agent.pk)
    presence_connect(user_id=agent.pk)
    presence_disconnect(user_id=agent.pk)
    presence_disconnect(user_id=agent.pk)
    assert announced == [(agent.pk, True, ""), (agent.pk, False, "offline")]
