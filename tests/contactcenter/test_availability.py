"""Availability for open lines (reference §4.4), through the selector routing uses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from contactcenter.selectors import Unavailability, agent_availability, available_user_ids
from contactcenter.services.availability import (
    absence_create,
    openlines_pause_set,
    presence_connect,
    presence_disconnect,
    user_dismiss,
    work_day_clock_in,
    work_day_clock_out,
    work_day_pause,
    work_day_resume,
)

pytestmark = pytest.mark.django_db


def check(user, *, check_available=True):
    """Both the single-agent selector and the bulk one routing uses must agree."""
    single = agent_availability(user=user, check_available=check_available)
    bulk = user.pk in available_user_ids(user_ids=[user.pk], check_available=check_available)
    assert single.available == bulk
    return single


def test_online_agent_without_time_tracking_is_available(agent):
    presence_connect(user_id=agent.pk)
    assert check(agent).available


def test_offline_agent_without_time_tracking_is_unavailable(agent):
    result = check(agent)
    assert not result.available
    assert result.reason is Unavailability.OFFLINE


def test_agent_goes_offline_when_the_last_socket_closes(agent):
    presence_connect(user_id=agent.pk)
    presence_connect(user_id=agent.pk)
    presence_disconnect(user_id=agent.pk)
    assert check(agent).available
    presence_disconnect(user_id=agent.pk)
    assert check(agent).reason is Unavailability.OFFLINE


def test_heartbeat_older_than_idle_limit_is_offline(agent, settings):
    settings.PRESENCE_IDLE_SECONDS = 60
    presence_connect(user_id=agent.pk, at=timezone.now() - timedelta(seconds=61))
    assert check(agent).reason is Unavailability.OFFLINE


def test_vacation_today_makes_agent_unavailable(agent):
    presence_connect(user_id=agent.pk)
    today = timezone.localdate()
    absence_create(user_id=agent.pk, date_from=today - timedelta(days=2), date_to=today)
    assert check(agent).reason is Unavailability.VACATION


def test_vacation_that_ended_yesterday_does_not_count(agent):
    presence_connect(user_id=agent.pk)
    today = timezone.localdate()
    absence_create(user_id=agent.pk, date_from=today - timedelta(days=5), date_to=today - timedelta(days=1))
    assert check(agent).available


def test_vacation_starting_tomorrow_does_not_count(agent):
    presence_connect(user_id=agent.pk)
    today = timezone.localdate()
    absence_create(user_id=agent.pk, date_from=today + timedelta(days=1), date_to=today + timedelta(days=3))
    assert check(agent).available


def test_open_work_day_with_time_tracking_is_available_even_offline(make_user):
    user = make_user(uses_time_tracking=True)
    work_day_clock_in(user_id=user.pk)
    assert check(user).available


def test_paused_work_day_is_unavailable(make_user):
    user = make_user(uses_time_tracking=True)
    presence_connect(user_id=user.pk)
    work_day_clock_in(user_id=user.pk)
    work_day_pause(user_id=user.pk)
    assert check(user).reason is Unavailability.NONWORKING
    work_day_resume(user_id=user.pk)
    assert check(user).available


def test_clocked_out_with_time_tracking_is_unavailable_even_online(make_user):
    user = make_user(uses_time_tracking=True)
    presence_connect(user_id=user.pk)
    work_day_clock_in(user_id=user.pk)
    work_day_clock_out(user_id=user.pk)
    assert check(user).reason is Unavailability.NONWORKING


def test_never_clocked_in_with_time_tracking_is_unavailable(make_user):
    user = make_user(uses_time_tracking=True)
    presence_connect(user_id=user.pk)
    assert check(user).reason is Unavailability.NONWORKING


def test_openlines_pause_makes_agent_unavailable(agent):
    presence_connect(user_id=agent.pk)
    openlines_pause_set(user_id=agent.pk, paused=True)
    assert check(agent).reason is Unavailability.NONWORKING
    openlines_pause_set(user_id=agent.pk, paused=False)
    assert check(agent).available


def test_dismissed_agent_is_never_available_even_without_the_check(agent):
    presence_connect(user_id=agent.pk)
    user_dismiss(user_id=agent.pk)
    agent.refresh_from_db()
    assert check(agent, check_available=False).reason is Unavailability.DISMISSAL
    assert check(agent).reason is Unavailability.DISMISSAL


@pytest.mark.parametrize("state", ["offline", "vacation", "paused", "clocked_out"])
def test_without_the_check_only_dismissal_matters(make_user, state):
    user = make_user(uses_time_tracking=state in ("paused", "clocked_out"))
    today = timezone.localdate()
    if state == "vacation":
        absence_create(user_id=user.pk, date_from=today, date_to=today)
    if state == "paused":
        work_day_clock_in(user_id=user.pk)
        work_day_pause(user_id=user.pk)
    if state == "clocked_out":
        work_day_clock_in(user_id=user.pk)
        work_day_clock_out(user_id=user.pk)
    assert check(user, check_available=False).available


def test_vacation_wins_over_an_open_work_day(make_user):
    user = make_user(uses_time_tracking=True)
    work_day_clock_in(user_id=user.pk)
    today = timezone.localdate()
    absence_create(user_id=user.pk, date_from=today, date_to=today)
    assert check(user).reason is Unavailability.VACATION


def test_bulk_selector_mixes_rules_across_agents(make_user):
    online = make_user()
    presence_connect(user_id=online.pk)
    offline = make_user()
    tracking = make_user(uses_time_tracking=True)
    work_day_clock_in(user_id=tracking.pk)
    on_leave = make_user()
    presence_connect(user_id=on_leave.pk)
    absence_create(user_id=on_leave.pk, date_from=timezone.localdate(), date_to=timezone.localdate())
    ids = [online.pk, offline.pk, tracking.pk, on_leave.pk]
    assert available_user_ids(user_ids=ids, check_available=True) == {online.pk, tracking.pk}
    assert available_user_ids(user_ids=ids, check_available=False) == set(ids)
