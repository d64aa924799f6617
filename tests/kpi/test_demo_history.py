"""The demo's last week of conversations: its KPI figures equal the hand calculation in docs/metrics.md,
and a supervisor finds the late, badly rated ones, rates one and exports the list."""

from __future__ import annotations

import csv
import importlib
import io
import re
from datetime import date, timedelta

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.urls import reverse

from contactcenter.services.demo import demo_data_load
from kpi.demo import last_monday
from kpi.models import SessionKpi
from openlines.session_models import RealtimeEvent, Session

# Transactional: the demo commits step by step as the real engine does (on_commit hooks included).
pytestmark = pytest.mark.django_db(transaction=True)

# By hand, from the script in docs/metrics.md ("Worked example"): the first response is the agent's first
# answer minus the client's first message; each further question adds (answer - question); average =
# total / answered questions (rounded); late = a first answer over 120 s or a further one over 300 s.
# client: (first, total, answered, average, maximum, late answers, client vote, supervisor stars)
HAND_CALCULATION = {
    "Petra Svobodová": (40, 40 + 60, 2, 50, 60, 0, 5, 0),
    "Marco Rossi": (210, 210 + 60, 2, 135, 210, 1, 1, 2),
    "Nguyen Van An": (30, 30 + 420, 2, 225, 420, 1, 1, 0),
    "Anna Kowalska": (20, 20, 1, 20, 20, 0, 5, 0),
    "Ivan Petrov": (60, 60 + 30 + 60, 3, 50, 60, 0, 5, 5),
    "Lucie Dvořáková": (100, 100, 1, 100, 100, 0, 0, 0),
    "Giulia Bianchi": (150, 150, 1, 150, 150, 1, 5, 0),
    "Tran Thi Mai": (25, 25 + 10, 2, 18, 25, 0, 1, 0),
    "Piotr Zieliński": (35, 35, 1, 35, 35, 0, 5, 0),
    "Olga Smirnova": (90, 90 + 310, 2, 200, 310, 1, 0, 0),
}
TODAY = date(2026, 11, 21)  # a Saturday: last week is 9-15 November
LAST_WEEK = "created_from=2026-11-09&created_to=2026-11-15"


@pytest.fixture(autouse=True)
def default_roles():
    """The default access roles of the migrations (a transactional test starts from a flushed database)."""
    importlib.import_module("contactcenter.migrations.0003_default_roles").create_default_roles(apps, None)
    importlib.import_module("contactcenter.migrations.0010_narrow_default_roles").narrow_manager(apps, None)


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.setattr("kpi.demo.timezone.localdate", lambda *args: TODAY)
    demo_data_load(password="demo-pass-1234")
    return {s.chat.client.name: s for s in Session.objects.select_related("chat__client")}


@pytest.fixture
def supervisor_client(client, demo):
    client.force_login(get_user_model().objects.get(username="supervisor"))
    return client


def listed(response) -> list[int]:
    assert response.status_code == 200, response.content[:300]
    return [int(pk) for pk in re.findall(r'<tr data-session="(\d+)"', response.content.decode())]


def test_last_week_is_the_previous_monday_to_sunday():
    assert last_monday(TODAY) == date(2026, 11, 9)
    assert last_monday(date(2026, 11, 16)) == date(2026, 11, 9)  # a Monday: the week before


def test_kpi_figures_of_the_demo_equal_the_hand_calculation(demo):
    assert set(demo) == set(HAND_CALCULATION)
    for name, expected in HAND_CALCULATION.items():
        session = demo[name]
        kpi = SessionKpi.objects.get(session=session)
        actual = (
            kpi.first_response,
            kpi.total_response,
            kpi.response_count,
            kpi.average_response,
            kpi.max_response,
            kpi.breaches,
            session.vote,
            session.vote_head,
        )
        assert actual == expected, name
        assert session.closed, name
        assert session.time_first_answer == expected[0], name  # no bot on the demo line
        assert date(2026, 11, 9) <= session.created_at.date() <= date(2026, 11, 15)
    # Each late answer notified the supervisor once.
    supervisor = get_user_model().objects.get(username="supervisor")
    notified = RealtimeEvent.objects.filter(user=supervisor, type="notification", payload__kind="kpi_overdue")
    late_sessions = sorted(demo[name].pk for name, row in HAND_CALCULATION.items() if row[5])
    assert sorted(int(event.payload["session_id"]) for event in notified) == late_sessions


def test_supervisor_finds_last_weeks_late_and_badly_rated_conversations_rates_one_and_exports(
    supervisor_client, demo
):
    late = listed(supervisor_client.get(f"/chats/?{LAST_WEEK}&late=Y"))
    assert sorted(late) == sorted(
        demo[n].pk for n in ("Marco Rossi", "Nguyen Van An", "Giulia Bianchi", "Olga Smirnova")
    )
    late_and_disliked = listed(supervisor_client.get(f"/chats/?{LAST_WEEK}&late=Y&vote=1"))
    assert sorted(late_and_disliked) == sorted(demo[n].pk for n in ("Marco Rossi", "Nguyen Van An"))
    slowest_first = listed(supervisor_client.get(f"/chats/?{LAST_WEEK}&sort=-kpi_max"))
    assert slowest_first[0] == demo["Nguyen Van An"].pk
    # ... rates one and exports the list.
    target = demo["Nguyen Van An"]
    response = supervisor_client.post(
        reverse("kpi:chat_rate", args=[target.pk]),
        {"vote_head": 1, "comment_head": "Seven minutes for an address."},
    )
    assert response.status_code in (200, 302)
    assert Session.objects.get(pk=target.pk).vote_head == 1
    query = f"{LAST_WEEK}&late=Y&vote=1"
    export = supervisor_client.get(f"/chats/export/?format=csv&{query}")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert sorted(int(row[0]) for row in rows[1:]) == sorted(
        listed(supervisor_client.get(f"/chats/?{query}"))
    )
    assert len(rows) == 3


def test_demo_history_dates_follow_the_day_it_is_loaded(monkeypatch):
    monkeypatch.setattr("kpi.demo.timezone.localdate", lambda *args: TODAY + timedelta(days=7))
    demo_data_load(password="demo-pass-1234")
    days = {s.created_at.date() for s in Session.objects.all()}
    assert min(days) == date(2026, 11, 16) and max(days) == date(2026, 11, 20)


def test_the_demo_history_records_late_answers_but_mails_nobody_about_them(demo):
    """The first start printed four 'Response time exceeded' e-mails under the generated password."""
    from django.core import mail

    from contactcenter.background import run_pending_tasks
    from kpi.models import KpiClock

    assert KpiClock.objects.filter(overdue_at__isnull=False).count() == 4
    run_pending_tasks()
    assert mail.outbox == []
