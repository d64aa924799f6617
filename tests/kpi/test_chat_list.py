"""The chat list at /chats/: permission scoping, filters, sorting, pages, columns, history, group actions."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from kpi.models import ChatListPreference
from openlines.models import OpenLine
from openlines.session_models import SessionOffer, SessionParticipant
from tests.access_helpers import department, drop_default_assignments, grant
from tests.kpi.factories import add_message, make_session

pytestmark = pytest.mark.django_db
URL = "/chats/"


def listed_ids(response) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [int(pk) for pk in re.findall(r'<tr data-session="(\d+)"', response.content.decode())]


@pytest.fixture
def root_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def lines(db):
    return OpenLine.objects.create(line_name="Sales"), OpenLine.objects.create(line_name="Support")


@pytest.fixture
def staff(make_user):
    return {name: make_user(name, first_name=name.title(), is_staff=True) for name in ("ann", "bob", "cid")}


@pytest.fixture
def dataset(lines, staff):
    sales, support = lines
    day = lambda d, h=10: datetime(2026, 3, d, h, 0, tzinfo=UTC)  # noqa: E731
    return {
        "a": make_session(
            sales,
            client_name="Alice",
            operator=staff["ann"],
            created_at=day(2),
            date_close=day(2, 11),
            status=60,
            message_count=3,
            vote=5,
            vote_head=5,
            worktime=True,
            source="telegram",
            extra_url="https://shop.example/a",
            crm_lead="Lead 7",
            kpi={"first_response": 30, "total_response": 30, "response_count": 1},
        ),
        "b": make_session(
            sales,
            client_name="Boris",
            operator=staff["bob"],
            created_at=day(3),
            status=40,
            closed=False,
            message_count=10,
            vote=1,
            vote_head=0,
            worktime=False,
            source="whatsapp",
            mode="output",
            kpi={"first_response": 300, "total_response": 900, "response_count": 3, "breaches": 1},
        ),
        "c": make_session(
            support,
            client_name="Carla",
            operator=staff["cid"],
            created_at=day(4),
            date_close=day(5),
            status=65,
            spam=True,
            message_count=1,
            vote=0,
            vote_head=2,
            worktime=True,
            source="livechat",
        ),
        "d": make_session(
            support,
            client_name="Dmitri",
            operator=None,
            created_at=day(5),
            status=0,
            closed=False,
            message_count=2,
            vote=0,
            vote_head=0,
            worktime=True,
            source="telegram",
        ),
    }


def ids(dataset, *keys):
    return sorted(dataset[key].pk for key in keys)


def test_anonymous_visitors_are_sent_to_log_in(client, dataset):
    response = client.get(URL)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_staff_without_the_statistics_permission_are_refused(client, staff, dataset):
    drop_default_assignments()
    client.force_login(staff["ann"])
    assert client.get(URL).status_code == 403


def test_default_order_is_newest_first(root_client, dataset):
    assert listed_ids(root_client.get(URL)) == sorted(ids(dataset, "a", "b", "c", "d"), reverse=True)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("line={sales}", ["a", "b"]),
        ("mode=output", ["b"]),
        ("mode=input", ["a", "c", "d"]),
        ("created_from=2026-03-03&created_to=2026-03-04", ["b", "c"]),
        ("closed_from=2026-03-05&closed_to=2026-03-05", ["c"]),
        ("operator={ann}&operator={cid}", ["a", "c"]),
        ("client=ori", ["b"]),
        ("channel=telegram", ["a", "d"]),
        ("session_id={a_id}", ["a"]),
        ("extra_url=shop.example", ["a"]),
        ("status_group=waiting_agent", ["d"]),
        ("status_group=agent_answered", ["b"]),
        ("status_group=closed", ["a", "c"]),
        ("status=65", ["c"]),
        ("status=0&status=40", ["b", "d"]),
        ("crm=Y", ["a"]),
        ("crm=N", ["b", "c", "d"]),
        ("worktime=N", ["b"]),
        ("spam=Y", ["c"]),
        ("spam=N", ["a", "b", "d"]),
        ("late=Y", ["b"]),
        ("late=N", ["a", "c", "d"]),
        ("message_count_min=2&message_count_max=3", ["a", "d"]),
        ("vote=5", ["a"]),
        ("vote=1", ["b"]),
        ("vote_head=0", ["b", "d"]),
        ("vote_head=5&vote_head=2", ["a", "c"]),
    ],
)
def test_each_filter_narrows_the_list(root_client, dataset, lines, staff, query, expected):
    query = query.format(sales=lines[0].pk, ann=staff["ann"].pk, cid=staff["cid"].pk, a_id=dataset["a"].pk)
    assert sorted(listed_ids(root_client.get(f"{URL}?{query}"))) == ids(dataset, *expected)


def test_bad_filter_input_is_shown_next_to_the_field_not_a_500(root_client, dataset):
    response = root_client.get(f"{URL}?created_from=yesterday&message_count_min=-1&spam=Y")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('class="kpi-error"') == 2
    assert listed_ids(response) == ids(dataset, "c")  # the valid filter still applies


def test_sorting_by_a_column_both_ways(root_client, dataset):
    ascending = listed_ids(root_client.get(f"{URL}?sort=message_count"))
    assert ascending == [dataset[k].pk for k in ("c", "d", "a", "b")]
    descending = listed_ids(root_client.get(f"{URL}?sort=-kpi_first"))
    assert descending[:2] == [dataset["b"].pk, dataset["a"].pk]


def test_pages_of_twenty(root_client, lines):
    made = [make_session(lines[0]) for _ in range(25)]
    first = root_client.get(URL)
    assert len(listed_ids(first)) == 20 and 'rel="next"' in first.content.decode()
    second = root_client.get(f"{URL}?page=2")
    assert listed_ids(second) == sorted((s.pk for s in made), reverse=True)[20:]
    assert 'rel="next"' not in second.content.decode()


class TestScoping:
    @pytest.fixture(autouse=True)
    def _roles(self, db):
        drop_default_assignments()

    def test_own_level_sees_sessions_they_hold_joined_or_were_offered(self, client, staff, dataset):
        grant(staff["ann"], statistics_view="own")
        SessionParticipant.objects.create(session=dataset["c"], user=staff["ann"])
        SessionOffer.objects.create(session=dataset["d"], user=staff["ann"])
        client.force_login(staff["ann"])
        assert sorted(listed_ids(client.get(URL))) == ids(dataset, "a", "c", "d")

    def test_department_level_adds_colleagues(self, client, staff, dataset):
        department("Team", staff["ann"], staff["bob"])
        grant(staff["ann"], statistics_view="department")
        client.force_login(staff["ann"])
        assert sorted(listed_ids(client.get(URL))) == ids(dataset, "a", "b")

    def test_any_level_sees_everything(self, client, staff, dataset):
        grant(staff["ann"], statistics_view="any")
        client.force_login(staff["ann"])
        assert sorted(listed_ids(client.get(URL))) == ids(dataset, "a", "b", "c", "d")

    def test_history_of_a_session_outside_the_scope_is_refused(self, client, staff, dataset):
        grant(staff["ann"], statistics_view="own")
        client.force_login(staff["ann"])
        assert client.get(reverse("kpi:chat_history", args=[dataset["b"].pk])).status_code == 403
        assert client.get(reverse("kpi:chat_history", args=[dataset["a"].pk])).status_code == 200


def test_default_columns_then_the_users_choice_is_remembered(root_client, admin_user, dataset):
    body = root_client.get(URL).content.decode()
    assert 'data-column="date_create"' in body and 'data-column="line"' not in body
    response = root_client.post(reverse("kpi:chat_columns"), {"columns": ["line", "client", "bogus"]})
    assert response.status_code == 302
    assert ChatListPreference.objects.get(user=admin_user).columns == ["id", "line", "client"]
    body = root_client.get(URL).content.decode()
    headers = re.findall(r'<th data-column="(\w+)"', body)
    assert headers == ["id", "line", "client"]
    assert "Sales" in body


def test_history_panel_shows_the_messages_escaped(root_client, dataset):
    add_message(dataset["a"], "<script>alert(1)</script> hello")
    add_message(dataset["a"], "Hi Alice", author_type="agent")
    body = root_client.get(reverse("kpi:chat_history", args=[dataset["a"].pk])).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt; hello" in body
    assert "<script>alert" not in body
    assert "Hi Alice" in body


def test_client_names_are_escaped_in_the_list(root_client, lines):
    make_session(lines[0], client_name="<img src=x onerror=alert(1)>")
    body = root_client.get(URL).content.decode()
    assert "<img src=x" not in body and "&lt;img src=x" in body


def test_group_close_applies_to_the_selected_and_reports_refusals(client, staff, lines):
    drop_default_assignments()
    grant(staff["ann"], statistics_view="any")
    lines[0].full_close_time = 0
    lines[0].save()
    mine = make_session(lines[0], operator=staff["ann"], status=40, closed=False, wait_answer=False)
    theirs = make_session(lines[0], operator=staff["bob"], status=40, closed=False, wait_answer=False)
    client.force_login(staff["ann"])
    response = client.post(
        reverse("kpi:chat_group"), {"action": "close", "ids": [mine.pk, theirs.pk]}, follow=True
    )
    body = response.content.decode()
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.closed and not theirs.closed
    assert f"#{theirs.pk}:" in body


def test_group_spam_and_transfer(root_client, staff, lines):
    one = make_session(lines[0], operator=staff["ann"], status=40, closed=False, wait_answer=False)
    two = make_session(lines[0], operator=staff["ann"], status=40, closed=False, wait_answer=False)
    root_client.post(
        reverse("kpi:chat_group"), {"action": "transfer", "ids": [one.pk], "to_user": staff["bob"].pk}
    )
    root_client.post(reverse("kpi:chat_group"), {"action": "spam", "ids": [two.pk]})
    one.refresh_from_db()
    two.refresh_from_db()
    assert one.operator_id == staff["bob"].pk
    assert two.spam and two.status == 65


def test_transfer_without_a_target_is_refused_with_a_message(root_client, staff, lines):
    one = make_session(lines[0], operator=staff["ann"], status=40, closed=False, wait_answer=False)
    body = root_client.post(
        reverse("kpi:chat_group"), {"action": "transfer", "ids": [one.pk]}, follow=True
    ).content.decode()
    assert "Choose the agent to transfer to." in body
