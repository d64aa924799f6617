"""Permission matrix for lines and connectors: each level x list / view / modify / delete, through the
admin, the JSON API and the Contact Center page.

The world: `me`, a `colleague` sharing my department, a `stranger` from another one; one line (with a
live chat connector) whose queue holds each of them. Levels: none, own, department, any.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from contactcenter.models import Connector
from openlines.models import OpenLine
from tests.access_helpers import department, drop_default_assignments, fast_passwords, grant, make_line  # noqa: F401

pytestmark = pytest.mark.django_db

LEVELS = ["none", "own", "department", "any"]
LINES = ["mine", "colleague's", "stranger's"]
PERMITTED = {"none": set(), "own": {"mine"}, "department": {"mine", "colleague's"}, "any": set(LINES)}
CASES = [(level, line) for level in LEVELS for line in LINES]


@pytest.fixture
def world(make_user):
    drop_default_assignments()
    me = make_user("me", is_staff=True)
    colleague, stranger = make_user("colleague", is_staff=True), make_user("stranger", is_staff=True)
    department("Support", me, colleague)
    department("Sales", stranger)
    lines = {
        "mine": make_line("mine", users=(me,)),
        "colleague's": make_line("colleague's", users=(colleague,)),
        "stranger's": make_line("stranger's", users=(stranger,)),
    }
    connectors = {
        name: Connector.objects.create(kind="livechat", line=line, name=f"chat {name}")
        for name, line in lines.items()
    }
    client = Client()
    client.force_login(me)
    return {"me": me, "lines": lines, "connectors": connectors, "client": client}


def _names(response) -> set[str]:
    return {line["line_name"] for line in response.json()["results"]}


# --- Lines through the API ----------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_api_list_shows_the_lines_of_the_view_level(world, level):
    grant(world["me"], lines_view=level)
    response = world["client"].get("/api/v1/lines/")
    if level == "none":
        assert response.status_code == 403
    else:
        assert _names(response) == PERMITTED[level]
        assert response.json()["count"] == len(PERMITTED[level])


@pytest.mark.parametrize(("level", "line"), CASES)
def test_api_read_follows_the_view_level(world, level, line):
    grant(world["me"], lines_view=level)
    response = world["client"].get(f"/api/v1/lines/{world['lines'][line].pk}/")
    assert response.status_code == (200 if line in PERMITTED[level] else 404)


@pytest.mark.parametrize(("level", "line"), CASES)
def test_api_update_follows_the_modify_level(world, level, line):
    grant(world["me"], lines_view="any", lines_modify=level)
    target = world["lines"][line]
    response = world["client"].patch(
        f"/api/v1/lines/{target.pk}/", json.dumps({"line_name": "renamed"}), content_type="application/json"
    )
    allowed = line in PERMITTED[level]
    assert response.status_code == (200 if allowed else 403)
    target.refresh_from_db()
    assert (target.line_name == "renamed") is allowed


@pytest.mark.parametrize(("level", "line"), CASES)
def test_api_delete_follows_the_modify_level(world, level, line):
    grant(world["me"], lines_view="any", lines_modify=level, connectors_modify=level)
    target = world["lines"][line]
    response = world["client"].delete(f"/api/v1/lines/{target.pk}/")
    allowed = line in PERMITTED[level]
    assert response.status_code == (204 if allowed else 403)
    assert OpenLine.objects.filter(pk=target.pk).exists() is not allowed


@pytest.mark.parametrize("level", LEVELS)
def test_api_create_needs_a_modify_level_and_the_new_line_is_own(world, level):
    grant(world["me"], lines_modify=level)
    body = {
        "line_name": "new",
        "queue": [{"type": "user", "id": world["lines"]["stranger's"].queue.get().user_id}],
    }
    response = world["client"].post("/api/v1/lines/", json.dumps(body), content_type="application/json")
    assert response.status_code == (403 if level == "none" else 201)
    if level != "none":
        # The creator modified it last, so even with "own" they keep access to it.
        assert world["client"].get(f"/api/v1/lines/{response.json()['id']}/").status_code == 200


# --- Lines through the admin --------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_admin_list_shows_the_lines_of_the_view_level(world, level):
    grant(world["me"], lines_view=level)
    response = world["client"].get("/admin/openlines/openline/")
    if level == "none":
        assert response.status_code == 403
        return
    assert response.status_code == 200
    shown = {line.line_name for line in response.context["cl"].result_list}
    assert shown == PERMITTED[level]


@pytest.mark.parametrize(("level", "line"), CASES)
def test_admin_change_page_follows_the_view_level(world, level, line):
    grant(world["me"], lines_view=level)
    response = world["client"].get(f"/admin/openlines/openline/{world['lines'][line].pk}/change/")
    if level == "none":
        assert response.status_code == 403
    elif line in PERMITTED[level]:
        assert response.status_code == 200
        assert 'name="_save"' not in response.content.decode()  # view only
    else:
        assert response.status_code == 302  # "doesn't exist" for lines out of reach


@pytest.mark.parametrize(("level", "line"), CASES)
def test_admin_saving_follows_the_modify_level(world, level, line):
    grant(world["me"], lines_view="any", lines_modify=level)
    url = f"/admin/openlines/openline/{world['lines'][line].pk}/change/"
    allowed = line in PERMITTED[level]
    page = world["client"].get(url).content.decode()
    assert ('name="_save"' in page) is allowed
    # An empty post is invalid, but only someone allowed to change the line gets as far as the form.
    assert world["client"].post(url, {}).status_code == (200 if allowed else 403)


@pytest.mark.parametrize(("level", "line"), CASES)
def test_admin_delete_follows_the_modify_level(world, level, line):
    grant(world["me"], lines_view="any", lines_modify=level, connectors_modify=level)
    target = world["lines"][line]
    url = f"/admin/openlines/openline/{target.pk}/delete/"
    allowed = line in PERMITTED[level]
    assert world["client"].get(url).status_code == (200 if allowed else 403)
    world["client"].post(url, {"post": "yes"})
    assert OpenLine.objects.filter(pk=target.pk).exists() is not allowed


def test_admin_delete_action_refuses_lines_out_of_reach(world):
    grant(world["me"], lines_view="any", lines_modify="own", connectors_modify="own")
    lines = world["lines"]
    response = world["client"].post(
        "/admin/openlines/openline/",
        {
            "action": "delete_lines",
            "_selected_action": [lines["mine"].pk, lines["stranger's"].pk],
            "post": "yes",
        },
    )
    assert response.status_code == 403
    assert OpenLine.objects.count() == 3


@pytest.mark.parametrize("level", LEVELS)
def test_admin_add_page_needs_a_modify_level(world, level):
    grant(world["me"], lines_view="any", lines_modify=level)
    assert world["client"].get("/admin/openlines/openline/add/").status_code == (
        403 if level == "none" else 200
    )


# --- Connectors through the Contact Center page and the admin -----------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_contact_center_lists_the_connectors_of_the_level(world, level):
    grant(world["me"], connectors_modify=level)
    response = world["client"].get("/contact-center/")
    if level == "none":
        assert response.status_code == 403
        return
    shown = {row.connector.line.line_name for tile in response.context["tiles"] for row in tile.rows}
    assert shown == PERMITTED[level]


def test_seeing_lines_is_enough_to_see_their_connectors_but_not_to_change_them(world):
    grant(world["me"], lines_view="any")
    response = world["client"].get("/contact-center/")
    rows = [row for tile in response.context["tiles"] for row in tile.rows]
    assert len(rows) == 3 and not any(row.may_modify for row in rows)
    assert not response.context["may_connect"]
    assert "Disconnect" not in response.content.decode()


@pytest.mark.parametrize(("level", "line"), CASES)
def test_connector_edit_follows_the_connectors_level(world, level, line):
    grant(world["me"], lines_view="any", connectors_modify=level)
    connector = world["connectors"][line]
    response = world["client"].post(
        f"/contact-center/connectors/{connector.pk}/", {"name": "renamed", "active": "on"}
    )
    allowed = line in PERMITTED[level]
    assert response.status_code == (302 if allowed else 403)
    connector.refresh_from_db()
    assert (connector.name == "renamed") is allowed


@pytest.mark.parametrize(("level", "line"), CASES)
def test_connector_disconnect_follows_the_connectors_level(world, level, line):
    grant(world["me"], lines_view="any", connectors_modify=level)
    connector = world["connectors"][line]
    response = world["client"].post(f"/contact-center/connectors/{connector.pk}/disconnect/")
    allowed = line in PERMITTED[level]
    assert response.status_code == (302 if allowed else 403)
    # Disconnecting keeps the connector (and its history), marked disconnected.
    assert Connector.objects.get(pk=connector.pk).is_disconnected is allowed


def test_connectors_of_invisible_lines_are_not_found(world):
    grant(world["me"], connectors_modify="own")
    connector = world["connectors"]["stranger's"]
    assert world["client"].get(f"/contact-center/connectors/{connector.pk}/").status_code == 404


@pytest.mark.parametrize("level", LEVELS)
def test_connect_form_offers_the_lines_of_the_connectors_level(world, level):
    grant(world["me"], connectors_modify=level, lines_view="any")
    response = world["client"].get("/contact-center/connect/livechat/")
    if level == "none":
        assert response.status_code == 403
        return
    offered = {label for value, label in response.context["form"].fields["line"].choices}
    assert offered == PERMITTED[level]  # no "create a new line" without the lines modify level


def test_connecting_to_a_line_out_of_reach_is_refused(world):
    grant(world["me"], connectors_modify="own")
    response = world["client"].post(
        "/contact-center/connect/livechat/", {"line": world["lines"]["stranger's"].pk, "name": "sneaky"}
    )
    assert response.status_code == 200
    assert "line" in response.context["form"].errors
    assert not Connector.objects.filter(name="sneaky").exists()


@pytest.mark.parametrize("level", LEVELS)
def test_connector_admin_list_follows_the_view_level(world, level):
    grant(world["me"], connectors_modify=level)
    response = world["client"].get("/admin/contactcenter/connector/")
    if level == "none":
        assert response.status_code == 403
        return
    assert {c.line.line_name for c in response.context["cl"].result_list} == PERMITTED[level]


def test_deleting_a_line_with_channels_also_needs_the_connectors_right_in_api_and_admin(world):
    grant(world["me"], lines_view="any", lines_modify="any")
    line = world["lines"]["mine"]
    assert world["client"].delete(f"/api/v1/lines/{line.pk}/").status_code == 403
    world["client"].post(f"/admin/openlines/openline/{line.pk}/delete/", {"post": "yes"})
    assert OpenLine.objects.filter(pk=line.pk).exists()
    grant(world["me"], connectors_modify="own")
    assert world["client"].delete(f"/api/v1/lines/{line.pk}/").status_code == 204


@pytest.mark.parametrize(
    ("role", "lines_seen", "may_modify_lines", "may_connect", "may_edit_roles"),
    [
        ("Administrator", 3, True, True, True),
        ("Chief executive", 3, True, True, False),
        ("Manager", 1, False, False, False),
    ],
)
def test_default_roles_given_to_a_user(
    world, role, lines_seen, may_modify_lines, may_connect, may_edit_roles
):
    from contactcenter.models import Role, RoleAssignment

    RoleAssignment.objects.create(role=Role.objects.get(name=role), user=world["me"])
    client, stranger_line = world["client"], world["lines"]["stranger's"]
    assert client.get("/api/v1/lines/").json()["count"] == lines_seen
    response = client.patch(
        f"/api/v1/lines/{stranger_line.pk}/", json.dumps({"line_name": "x"}), content_type="application/json"
    )
    # A line the role does not even show answers 404 (the Manager sees only the lines of its queues).
    assert response.status_code == (200 if may_modify_lines else 403 if lines_seen == 3 else 404)
    assert client.get("/contact-center/").context["may_connect"] is may_connect
    assert client.get("/admin/contactcenter/role/").status_code == (200 if may_edit_roles else 403)


def test_role_holder_saves_own_line_with_its_queue_through_the_admin_form(world, make_user):
    from tests.openlines.conftest import change_url, line_form_data

    grant(world["me"], lines_modify="own")
    line, newcomer = world["lines"]["mine"], make_user("newcomer", is_staff=True)
    page = world["client"].get(change_url(line)).content.decode()
    assert 'name="queue-0-user"' in page  # the queue inline is there to edit, not read-only
    data = line_form_data(line, queue=[{"user": world["me"], "sort": 10}, {"user": newcomer, "sort": 20}])
    data["line_name"] = "mine, renamed"
    response = world["client"].post(change_url(line), data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    line.refresh_from_db()
    assert line.line_name == "mine, renamed"
    assert [m.user for m in line.queue.order_by("sort")] == [world["me"], newcomer]


def test_view_only_role_holder_gets_the_queue_read_only(world):
    from tests.openlines.conftest import change_url

    grant(world["me"], lines_view="own")
    page = world["client"].get(change_url(world["lines"]["mine"])).content.decode()
    assert 'name="queue-0-user"' not in page
    assert 'name="queue-MAX_NUM_FORMS" value="0"' in page
