"""The demo administrator manages the company structure and availability in the admin."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from contactcenter.models import Absence, Department, WorkDay
from contactcenter.services.demo import demo_data_load

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    demo_data_load(password="demo-pass-1234", history=False)
    client = Client()
    assert client.login(username="admin", password="demo-pass-1234")
    return client


def test_demo_data_has_two_departments_and_the_documented_logins():
    logins = demo_data_load(password="x-demo-pass-1", history=False)
    assert logins.usernames == ["admin", "supervisor", "agent1", "agent2", "agent3"]
    support = Department.objects.get(name="Support")
    assert support.head.username == "supervisor"
    assert set(support.members.values_list("user__username", flat=True)) == {"supervisor", "agent1", "agent2"}
    assert set(Department.objects.get(name="Sales").members.values_list("user__username", flat=True)) == {
        "agent3"
    }


@pytest.mark.parametrize(
    "url",
    [
        "/admin/contactcenter/department/",
        "/admin/contactcenter/department/?q=Supp",
        "/admin/contactcenter/employeeprofile/?departments__id__exact=1",
        "/admin/auth/user/?is_active__exact=1",
        "/admin/contactcenter/absence/?when=now",
        "/admin/contactcenter/workday/?state__exact=open",
        "/admin/contactcenter/department/add/",
        "/admin/contactcenter/absence/add/",
        "/admin/contactcenter/workday/add/",
    ],
)
def test_admin_pages_render(admin_client, url):
    assert admin_client.get(url).status_code == 200


def test_admin_adds_an_absence_and_refuses_one_that_ends_before_it_starts(admin_client):
    agent_id = admin_client.get("/admin/auth/user/?q=agent1").context["cl"].result_list[0].pk
    bad = admin_client.post(
        "/admin/contactcenter/absence/add/",
        {"user": agent_id, "kind": "vacation", "date_from": "2026-08-10", "date_to": "2026-08-01"},
    )
    assert bad.status_code == 200
    assert Absence.objects.count() == 0
    ok = admin_client.post(
        "/admin/contactcenter/absence/add/",
        {"user": agent_id, "kind": "vacation", "date_from": "2026-08-01", "date_to": "2026-08-10"},
    )
    assert ok.status_code == 302
    assert Absence.objects.get().user_id == agent_id


def test_admin_edits_a_department_tree(admin_client):
    support = Department.objects.get(name="Support")
    response = admin_client.post(
        "/admin/contactcenter/department/add/",
        {"name": "Second line", "parent": support.pk, "sort": 10},
    )
    assert response.status_code == 302
    assert Department.objects.get(name="Second line").parent == support


def test_admin_dismisses_an_employee_with_an_action(admin_client):
    from django.contrib.auth import get_user_model

    agent = get_user_model().objects.get(username="agent2")
    page = admin_client.get("/admin/auth/user/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
    admin_client.post(
        "/admin/auth/user/",
        {"action": "dismiss", "_selected_action": [agent.pk], "csrfmiddlewaretoken": token},
    )
    agent.refresh_from_db()
    assert agent.is_active is False


def test_admin_records_a_work_day(admin_client):
    from django.contrib.auth import get_user_model

    agent = get_user_model().objects.get(username="agent1")
    response = admin_client.post(
        "/admin/contactcenter/workday/add/",
        {
            "user": agent.pk,
            "state": "open",
            "started_at_0": "2026-11-20",
            "started_at_1": "09:00:00",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert WorkDay.objects.get(user=agent).state == "open"


def test_admin_header_shows_the_version(admin_client):
    from importlib.metadata import version

    page = admin_client.get("/admin/").content.decode()
    assert f"version {version('contactcenter')}" in page
