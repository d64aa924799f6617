"""Out of the box every employee holds the Manager role, narrowed by 0010_narrow_default_roles: only
administrators configure lines and channels; an employee sees the lines whose queue they are in and gets
their own conversations. An installation whose administrator edited the Manager role keeps its levels."""

import importlib
import json

import pytest
from django.apps import apps
from django.test import Client

from contactcenter.models import Connector, Role, RolePermission
from tests.access_helpers import fast_passwords, make_line  # noqa: F401

pytestmark = pytest.mark.django_db

narrowing = importlib.import_module("contactcenter.migrations.0010_narrow_default_roles")


def manager_levels() -> dict:
    return {(p.area, p.action): p.level for p in RolePermission.objects.filter(role__name="Manager")}


@pytest.fixture
def employee(make_user):
    user = make_user("employee", is_staff=True)
    client = Client()
    client.force_login(user)
    return user, client


def test_a_default_employee_may_not_configure_lines_or_connect_channels(employee):
    user, client = employee
    mine = make_line("Mine", users=(user,))
    other = make_line("Somebody else's")
    Connector.objects.create(kind="rest", line=other, name="Theirs")

    lines = client.get("/api/v1/lines/").json()
    assert [item["id"] for item in lines["results"]] == [mine.pk]
    assert client.get(f"/api/v1/lines/{other.pk}/").status_code == 404
    patched = client.patch(
        f"/api/v1/lines/{mine.pk}/", json.dumps({"line_name": "x"}), content_type="application/json"
    )
    assert patched.status_code == 403
    created = client.post("/api/v1/lines/", json.dumps({"line_name": "New"}), content_type="application/json")
    assert created.status_code == 403

    page = client.get("/contact-center/")
    assert page.status_code == 200 and page.context["may_connect"] is False
    assert "Theirs" not in page.content.decode()
    assert client.get("/contact-center/connect/rest/").status_code == 403
    assert client.post("/contact-center/connect/rest/", {"line": mine.pk, "name": "x"}).status_code == 403
    # The admin shows their own line read-only and refuses changes.
    assert client.post(f"/admin/openlines/openline/{mine.pk}/change/", {"line_name": "x"}).status_code == 403
    assert client.get(f"/admin/openlines/openline/{other.pk}/change/").status_code == 302  # "doesn't exist"
    mine.refresh_from_db()
    assert mine.line_name == "Mine"
    assert client.get("/admin/contactcenter/role/").status_code == 403
    assert not Connector.objects.filter(line=mine).exists()


def test_a_fresh_installation_holds_the_narrowed_manager_levels():
    assert manager_levels() == narrowing.NEW_MANAGER
    assert Role.objects.get(name="Manager").description == narrowing.NEW_DESCRIPTION


def test_an_untouched_manager_role_of_an_older_installation_is_narrowed():
    manager = Role.objects.get(name="Manager")
    for (area, action), level in narrowing.OLD_MANAGER.items():
        RolePermission.objects.filter(role=manager, area=area, action=action).update(level=level)
    Role.objects.filter(pk=manager.pk).update(description=narrowing.OLD_DESCRIPTION)
    narrowing.narrow_manager(apps, None)
    assert manager_levels() == narrowing.NEW_MANAGER


def test_a_manager_role_an_administrator_edited_keeps_its_levels(admin_user):
    """The administrator gave managers department statistics in the role page; channels stay theirs."""
    manager = Role.objects.get(name="Manager")
    for (area, action), level in narrowing.OLD_MANAGER.items():
        RolePermission.objects.filter(role=manager, area=area, action=action).update(level=level)
    client = Client()
    client.force_login(admin_user)
    url = f"/admin/contactcenter/role/{manager.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data.update({"level__statistics__view": 2})
    data.update(
        {
            "assignments-TOTAL_FORMS": "0",
            "assignments-INITIAL_FORMS": "0",
            "assignments-MIN_NUM_FORMS": "0",
            "assignments-MAX_NUM_FORMS": "1000",
        }
    )
    assert client.post(url, data).status_code == 302
    edited = manager_levels()
    assert edited[("statistics", "view")] == 2 and edited[("connectors", "modify")] == 3

    narrowing.narrow_manager(apps, None)
    assert manager_levels() == edited
