"""Supervisor ratings (permission, limits, agent notified), exports equal to the list, and reports."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from django.test import override_settings
from django.urls import reverse
from openpyxl import load_workbook

from contactcenter.background import run_pending_tasks
from kpi.models import ChatExport, KpiClock
from openlines.models import OpenLine
from openlines.session_models import RealtimeEvent
from tests.access_helpers import department, drop_default_assignments, grant
from tests.kpi.factories import make_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def line(db):
    return OpenLine.objects.create(line_name="Sales")


@pytest.fixture
def staff(make_user):
    return {name: make_user(name, first_name=name.title(), is_staff=True) for name in ("ann", "bob", "sue")}


def rate(client, session, **data):
    return client.post(reverse("kpi:chat_rate", args=[session.pk]), data)


class TestSupervisorRating:
    @pytest.fixture(autouse=True)
    def _roles(self, db):
        drop_default_assignments()

    def test_without_the_rating_permission_it_is_refused(self, client, staff, line):
        grant(staff["sue"], statistics_view="any")
        session = make_session(line, operator=staff["ann"])
        client.force_login(staff["sue"])
        assert rate(client, session, vote_head=4).status_code == 403
        session.refresh_from_db()
        assert session.vote_head == 0

    def test_department_level_rates_only_colleagues_conversations(self, client, staff, line):
        department("Team", staff["sue"], staff["ann"])
        grant(staff["sue"], vote_head_perform="department")
        colleague = make_session(line, operator=staff["ann"])
        stranger = make_session(line, operator=staff["bob"])
        client.force_login(staff["sue"])
        assert rate(client, colleague, vote_head=4, comment_head="Good").status_code == 200
        assert rate(client, stranger, vote_head=4).status_code == 403
        colleague.refresh_from_db()
        assert (colleague.vote_head, colleague.comment_head) == (4, "Good")

    def test_any_level_rates_and_the_agent_is_notified(self, client, staff, line):
        grant(staff["sue"], vote_head_perform="any")
        session = make_session(line, operator=staff["bob"])
        client.force_login(staff["sue"])
        response = rate(client, session, vote_head=5, comment_head="Great <b>work</b>")
        assert response.json() == {"id": session.pk, "vote_head": 5, "comment_head": "Great <b>work</b>"}
        [event] = RealtimeEvent.objects.filter(user=staff["bob"], type="notification")
        assert event.payload["kind"] == "head_vote"
        assert event.payload["vote_head"] == 5
        assert "5 stars" in event.payload["text"] and "commented" in event.payload["text"]

    @pytest.mark.parametrize("vote", ["0", "6", "x"])
    def test_stars_outside_one_to_five_are_refused(self, client, staff, line, vote):
        grant(staff["sue"], vote_head_perform="any")
        session = make_session(line, operator=staff["bob"])
        client.force_login(staff["sue"])
        response = rate(client, session, vote_head=vote)
        assert response.status_code == 400 and "vote_head" in response.json()["errors"]

    def test_neither_stars_nor_a_comment_is_refused(self, client, staff, line):
        grant(staff["sue"], vote_head_perform="any")
        session = make_session(line, operator=staff["bob"])
        client.force_login(staff["sue"])
        response = rate(client, session, vote_head="")
        assert response.status_code == 400
        assert response.json()["errors"] == {"__all__": ["Give a rating, write a comment, or both."]}

    def test_comment_up_to_ten_thousand_characters(self, client, staff, line):
        grant(staff["sue"], vote_head_perform="any")
        session = make_session(line, operator=staff["bob"])
        client.force_login(staff["sue"])
        assert rate(client, session, vote_head=3, comment_head="x" * 10000).status_code == 200
        response = rate(client, session, vote_head=3, comment_head="x" * 10001)
        assert response.status_code == 400 and "comment_head" in response.json()["errors"]

    def test_rating_shows_in_the_list_and_filters(self, client, staff, line):
        grant(staff["sue"], vote_head_perform="any", statistics_view="any")
        session = make_session(line, operator=staff["bob"])
        other = make_session(line, operator=staff["bob"])
        client.force_login(staff["sue"])
        rate(client, session, vote_head=2, comment_head="Slow")
        body = client.get("/chats/?vote_head=2").content.decode()
        assert re.findall(r'<tr data-session="(\d+)"', body) == [str(session.pk)]
        assert "Slow" in body and str(other.pk) not in re.findall(r'<tr data-session="(\d+)"', body)


@pytest.fixture
def many(line, staff):
    made = []
    for i in range(30):
        made.append(
            make_session(
                line,
                client_name=f"=Client {i}" if i == 0 else f"Client {i}",
                operator=staff["ann"] if i % 2 else staff["bob"],
                message_count=i,
                vote=5 if i % 3 == 0 else 0,
                kpi={"first_response": i * 10, "total_response": i * 10, "response_count": 1},
            )
        )
    return made


def list_ids_all_pages(client, query):
    found, page = [], 1
    while True:
        body = client.get(f"/chats/?{query}&page={page}").content.decode()
        found += [int(x) for x in re.findall(r'<tr data-session="(\d+)"', body)]
        if 'rel="next"' not in body:
            return found
        page += 1


def test_csv_export_equals_the_filtered_list(client, admin_user, many):
    client.force_login(admin_user)
    query = f"operator={many[1].operator_id}&sort=message_count"
    response = client.get(f"/chats/export/?format=csv&{query}")
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    header, data = rows[0], rows[1:]
    assert header[0] == "ID" and "Action" not in header
    assert [int(row[0]) for row in data] == list_ids_all_pages(client, query)
    assert len(data) == 15


def test_csv_cells_cannot_run_as_formulas(client, admin_user, many):
    client.force_login(admin_user)
    text = b"".join(client.get("/chats/export/?format=csv").streaming_content).decode("utf-8-sig")
    assert "'=Client 0" in text


def test_xlsx_export_equals_the_filtered_list(client, admin_user, many):
    client.force_login(admin_user)
    response = client.get("/chats/export/?format=xlsx&vote=5")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert [row[0] for row in rows[1:]] == list_ids_all_pages(client, "vote=5")
    assert len(rows) == 11


def test_unknown_export_format_is_a_400(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/chats/export/?format=pdf").status_code == 400


@override_settings(KPI_EXPORT_INLINE_MAX_ROWS=5)
@pytest.mark.django_db(transaction=True)
def test_large_xlsx_export_runs_in_the_background_with_progress(client, admin_user, many, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(admin_user)
    response = client.get("/chats/export/?format=xlsx&sort=id")
    assert response.status_code == 302
    job = ChatExport.objects.get()
    progress = client.get(f"{response['Location']}?json=1").json()
    assert progress["state"] == "pending" and progress["total"] == 30
    run_pending_tasks()
    progress = client.get(f"{response['Location']}?json=1").json()
    assert progress["state"] == "done" and progress["done"] == 30
    download = client.get(progress["url"])
    sheet = load_workbook(io.BytesIO(b"".join(download.streaming_content))).active
    assert [row[0] for row in list(sheet.iter_rows(values_only=True))[1:]] == sorted(s.pk for s in many)
    other = type(admin_user).objects.create_superuser("other", "o@example.com", "pw")
    client.force_login(other)
    assert client.get(reverse("kpi:chat_export_progress", args=[job.pk])).status_code == 404


@override_settings(KPI_EXPORT_INLINE_MAX_ROWS=5)
@pytest.mark.django_db(transaction=True)
def test_a_background_export_the_task_queue_cannot_take_fails_visibly(
    client, admin_user, many, settings, tmp_path, monkeypatch
):
    """Redis down in the scaled mode: no 500, and the job says it failed instead of waiting forever."""
    settings.MEDIA_ROOT = tmp_path

    def unreachable(*args, **kwargs):
        raise ConnectionError("task queue unreachable")

    monkeypatch.setattr("contactcenter.background.async_task", unreachable)
    client.force_login(admin_user)
    response = client.get("/chats/export/?format=xlsx&sort=id")
    assert response.status_code == 302
    progress = client.get(f"{response['Location']}?json=1").json()
    assert progress["state"] == "failed"
    assert "could not be reached" in ChatExport.objects.get().error


def test_export_is_scoped_like_the_list(client, staff, many):
    drop_default_assignments()
    grant(staff["ann"], statistics_view="own")
    client.force_login(staff["ann"])
    text = b"".join(client.get("/chats/export/?format=csv").streaming_content).decode("utf-8-sig")
    exported = [int(row[0]) for row in list(csv.reader(io.StringIO(text)))[1:]]
    assert sorted(exported) == sorted(s.pk for s in many if s.operator_id == staff["ann"].pk)


class TestReports:
    def test_report_page_draws_every_chart_with_a_csv_link(self, client, admin_user, many):
        client.force_login(admin_user)
        body = client.get("/reports/?date_from=2026-03-01&date_to=2026-03-31").content.decode()
        for key in (
            "conversations",
            "agents",
            "first_answer",
            "kpi_breach",
            "client_votes",
            "head_votes",
            "hours",
            "weekdays",
        ):
            assert f'id="chart-{key}"' in body
            assert f"/reports/{key}.csv" in body
        assert "kpi/vendor/chart.umd.js" in body

    def test_conversation_and_load_figures(self, client, admin_user, line, staff):
        client.force_login(admin_user)
        for hour in (9, 9, 14):
            make_session(line, operator=staff["ann"], created_at=datetime(2026, 3, 3, hour, 5, tzinfo=UTC))
        make_session(line, operator=staff["bob"], created_at=datetime(2026, 3, 7, 9, 0, tzinfo=UTC))
        make_session(line, operator=staff["bob"], created_at=datetime(2026, 5, 1, 9, 0, tzinfo=UTC))
        query = "date_from=2026-03-01&date_to=2026-03-31"
        rows = dict(csv_rows(client, "hours", query))
        assert rows["09"] == "3" and rows["14"] == "1" and rows["10"] == "0"
        weekdays = dict(csv_rows(client, "weekdays", query))
        assert weekdays["Tue"] == "3" and weekdays["Sat"] == "1"
        agents = dict(csv_rows(client, "agents", f"{query}&operator={staff['ann'].pk}"))
        assert agents == {"Ann": "3"}
        per_day = dict(csv_rows(client, "conversations", query))
        assert per_day["2026-03-03"] == "3" and len(per_day) == 31

    def test_first_answer_distribution_breach_rate_and_rating_shares(self, client, admin_user, line, staff):
        client.force_login(admin_user)
        at = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
        fast = make_session(
            line, operator=staff["ann"], created_at=at, time_first_answer=30, vote=5, vote_head=5
        )
        slow = make_session(
            line, operator=staff["ann"], created_at=at, time_first_answer=1000, vote=1, vote_head=3
        )
        make_session(line, operator=staff["bob"], created_at=at, time_first_answer=None)
        for session, late in ((fast, False), (slow, True), (slow, False), (slow, False)):
            KpiClock.objects.create(
                session=session,
                kind="first",
                received_at=at,
                started_at=at,
                limit_seconds=60,
                due_at=at,
                answered_at=at,
                overdue_at=at if late else None,
            )
        query = "date_from=2026-03-01&date_to=2026-03-31"
        buckets = dict(csv_rows(client, "first_answer", query))
        assert buckets["under 1 min"] == "1" and buckets["15-60 min"] == "1" and buckets["no answer"] == "1"
        assert dict(csv_rows(client, "kpi_breach", query)) == {"Ann": "25.0"}
        assert dict(csv_rows(client, "client_votes", query)) == {
            "Like": "1",
            "Dislike": "1",
            "Not rated": "1",
        }
        heads = dict(csv_rows(client, "head_votes", query))
        assert heads["★★★★★"] == "1" and heads["★★★"] == "1" and heads["Not rated"] == "1"

    def test_reports_need_the_statistics_permission(self, client, staff):
        drop_default_assignments()
        client.force_login(staff["ann"])
        assert client.get("/reports/").status_code == 403
        assert client.get("/reports/hours.csv").status_code == 403

    def test_reports_are_scoped_like_the_list(self, client, staff, line):
        drop_default_assignments()
        grant(staff["ann"], statistics_view="own")
        at = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
        make_session(line, operator=staff["ann"], created_at=at)
        make_session(line, operator=staff["bob"], created_at=at)
        client.force_login(staff["ann"])
        assert dict(csv_rows(client, "agents", "date_from=2026-03-01&date_to=2026-03-31")) == {"Ann": "1"}


def csv_rows(client, chart, query):
    response = client.get(f"/reports/{chart}.csv?{query}")
    assert response.status_code == 200
    return [tuple(row) for row in list(csv.reader(io.StringIO(response.content.decode())))[1:]]
