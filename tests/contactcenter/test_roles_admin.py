"""Editing access roles in the admin: levels per area as the reference allows them, assignments."""

from __future__ import annotations

import pytest
from django.test import Client

from contactcenter.models import Role, RoleAssignment
from contactcenter.permissions import PERMISSION_MATRIX, can
from tests.access_helpers import department, drop_default_assignments, fast_passwords, grant  # noqa: F401

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/contactcenter/role/add/"


def role_form(name: str, **levels: int) -> dict:
    data = {
        f"level__{area.value}__{action.value}": allowed[0].value
        for (area, action), allowed in PERMISSION_MATRIX.items()
    }
    data.update({f"level__{key.replace('.', '__')}": value for key, value in levels.items()})
    data.update(
        {
            "name": name,
            "description": "",
            "assignments-TOTAL_FORMS": "0",
            "assignments-INITIAL_FORMS": "0",
            "assignments-MIN_NUM_FORMS": "0",
            "assignments-MAX_NUM_FORMS": "1000",
        }
    )
    return data


@pytest.fixture
def admin_client(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client


def test_role_form_offers_only_the_levels_each_area_allows(admin_client):
    form = admin_client.get(ADD_URL).context["adminform"].form
    offered = {
        name: [value for value, _label in field.choices]
        for name, field in form.fields.items()
        if name.startswith("level__")
    }
    assert offered["level__lines__view"] == [0, 1, 2, 3]
    assert offered["level__join__perform"] == [1, 2, 3]
    assert offered["level__vote_head__perform"] == [0, 2, 3]
    assert offered["level__settings__modify"] == [0, 3]


def test_creating_a_role_with_levels_and_giving_it_to_a_department(admin_client, make_user):
    drop_default_assignments()
    agent = make_user("agent", is_staff=True)
    support = department("Support", agent)
    data = role_form("Supervisor", **{"lines.view": 2, "vote_head.perform": 2})
    data.update(
        {
            "assignments-TOTAL_FORMS": "1",
            "assignments-0-department": support.pk,
            "assignments-0-include_subdepartments": "on",
        }
    )
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    role = Role.objects.get(name="Supervisor")
    assert {(p.area, p.action): p.level for p in role.permissions.all()}[("lines", "view")] == 2
    assert RoleAssignment.objects.get(role=role).department == support
    assert can(agent, "vote_head", "perform")


@pytest.mark.parametrize(
    ("key", "level"),
    [("settings.modify", 1), ("join.perform", 0), ("vote_head.perform", 1), ("lines.view", 9)],
)
def test_a_level_the_area_does_not_allow_is_refused_next_to_the_field(admin_client, key, level):
    response = admin_client.post(ADD_URL, role_form("Odd", **{key: level}))
    assert response.status_code == 200
    assert f"level__{key.replace('.', '__')}" in response.context["adminform"].form.errors
    assert not Role.objects.filter(name="Odd").exists()


def test_an_assignment_needs_exactly_one_target(admin_client, make_user):
    user = make_user("u")
    data = role_form("Both")
    data.update(
        {
            "assignments-TOTAL_FORMS": "1",
            "assignments-0-user": user.pk,
            "assignments-0-all_employees": "on",
        }
    )
    response = admin_client.post(ADD_URL, data)
    assert response.status_code == 200
    assert not Role.objects.filter(name="Both").exists()


def test_editing_roles_needs_the_common_settings_level(make_user):
    drop_default_assignments()
    user = make_user("u", is_staff=True)
    client = Client()
    client.force_login(user)
    grant(user, lines_modify="any")
    assert client.get("/admin/contactcenter/role/").status_code == 403
    grant(user, settings_modify="any")
    assert client.get("/admin/contactcenter/role/").status_code == 200
    assert client.get(ADD_URL).status_code == 200


def test_roles_list_summarises_levels_and_assignments(admin_client):
    page = admin_client.get("/admin/contactcenter/role/").content.decode()
    assert "Manager" in page and "all employees" in page


def test_editing_a_role_starts_from_its_stored_levels_and_saves_changes(admin_client):
    manager = Role.objects.get(name="Manager")
    url = f"/admin/contactcenter/role/{manager.pk}/change/"
    form = admin_client.get(url).context["adminform"].form
    assert form["level__lines__view"].value() == 1 and form["level__statistics__view"].value() == 1
    data = {name: form[name].value() for name in form.fields}
    data.update({"level__statistics__view": 2, "description": ""})
    data.update(
        {
            "assignments-TOTAL_FORMS": "1",
            "assignments-INITIAL_FORMS": "1",
            "assignments-MIN_NUM_FORMS": "0",
            "assignments-MAX_NUM_FORMS": "1000",
            "assignments-0-id": manager.assignments.get().pk,
            "assignments-0-role": manager.pk,
            "assignments-0-all_employees": "on",
            "assignments-0-include_subdepartments": "on",
        }
    )
    assert admin_client.post(url, data).status_code == 302
    assert manager.permissions.get(area="statistics", action="view").level == 2
