"""The permission function `can()` and the effective levels of roles (reference §7)."""

from __future__ import annotations

import pytest

from contactcenter.models import Connector, Role, RoleAssignment
from contactcenter.permissions import Level, can, permitted_queryset, user_access_level
from openlines.models import OpenLine
from tests.access_helpers import (
    department,
    drop_default_assignments,
    grant,
    make_line,
    role_with,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_default_roles():
    drop_default_assignments()


def test_superuser_may_do_everything_without_roles(admin_user):
    line = make_line("Sales")
    assert can(admin_user, "lines", "modify", line)
    assert can(admin_user, "settings", "modify")
    assert user_access_level(user=admin_user, area="vote_head", action="perform") == Level.ANY


def test_inactive_superuser_may_do_nothing(admin_user):
    admin_user.is_active = False
    assert not can(admin_user, "lines", "view")


def test_user_without_roles_sees_no_lines_but_may_join_own_conversations(make_user):
    user = make_user("nobody", is_staff=True)
    assert not can(user, "lines", "view")
    assert not can(user, "connectors", "modify")
    # JOIN has no "none" level in the reference: personal is its minimum.
    assert user_access_level(user=user, area="join", action="perform") == Level.OWN


def test_own_level_covers_lines_where_the_user_is_in_the_queue_or_modified_last(make_user):
    user, other = make_user("u", is_staff=True), make_user("o")
    grant(user, lines_view="own")
    in_queue = make_line("Queue", users=(user,))
    modified = make_line("Modified", users=(other,), modified_by=user)
    foreign = make_line("Foreign", users=(other,), modified_by=other)
    assert can(user, "lines", "view", in_queue)
    assert can(user, "lines", "view", modified)
    assert not can(user, "lines", "view", foreign)


def test_own_level_covers_lines_whose_queue_holds_the_users_department(make_user):
    user = make_user("u")
    support = department("Support", user)
    grant(user, lines_view="own")
    assert can(user, "lines", "view", make_line("Dept", departments=(support,)))


def test_department_level_covers_lines_of_department_colleagues(make_user):
    user, colleague, stranger = make_user("u"), make_user("c"), make_user("s")
    department("Support", user, colleague)
    department("Sales", stranger)
    grant(user, lines_modify="department")
    assert can(user, "lines", "modify", make_line("Colleague's", users=(colleague,)))
    assert not can(user, "lines", "modify", make_line("Stranger's", users=(stranger,)))


def test_own_level_does_not_cover_colleagues_lines(make_user):
    user, colleague = make_user("u"), make_user("c")
    department("Support", user, colleague)
    grant(user, lines_modify="own")
    assert not can(user, "lines", "modify", make_line("Colleague's", users=(colleague,)))


def test_department_head_covers_lines_of_sub_department_members(make_user):
    head, member = make_user("head"), make_user("member")
    company = department("Company", head=head)
    department("Support", member, parent=company)
    grant(head, lines_view="department")
    assert can(head, "lines", "view", make_line("Support line", users=(member,)))


def test_effective_level_is_the_maximum_over_roles_of_user_and_departments(make_user):
    user = make_user("u")
    support = department("Support", user)
    grant(user, lines_view="own")
    RoleAssignment.objects.create(role=role_with("Dept role", lines_view="any"), department=support)
    assert user_access_level(user=user, area="lines", action="view") == Level.ANY


def test_department_role_reaches_sub_departments_only_when_asked(make_user):
    user = make_user("u")
    company = department("Company")
    department("Support", user, parent=company)
    assignment = RoleAssignment.objects.create(
        role=role_with("Company role", lines_view="any"), department=company
    )
    assert can(user, "lines", "view")
    assignment.include_subdepartments = False
    assignment.save()
    fresh = type(user).objects.get(pk=user.pk)
    assert not can(fresh, "lines", "view")


def test_role_for_all_employees_applies_to_everyone(make_user):
    user = make_user("u")
    RoleAssignment.objects.create(role=role_with("Everyone", statistics_view="own"), all_employees=True)
    assert user_access_level(user=user, area="statistics", action="view") == Level.OWN


def test_levels_an_area_does_not_allow_fall_back_to_the_next_lower_allowed_level(make_user):
    user = make_user("u")
    # VOTE_HEAD allows none/D/X and SETTINGS none/X: a stored "own" / "department" means less.
    grant(user, vote_head_perform="own", settings_modify="department")
    assert user_access_level(user=user, area="vote_head", action="perform") == Level.NONE
    assert user_access_level(user=user, area="settings", action="modify") == Level.NONE


def test_modifying_a_line_implies_seeing_it(make_user):
    user = make_user("u")
    grant(user, lines_modify="own")
    line = make_line("Mine", users=(user,))
    assert can(user, "lines", "view", line)


def test_connector_belongs_to_the_owners_of_its_line(make_user):
    user, other = make_user("u"), make_user("o")
    grant(user, connectors_modify="own")
    mine = Connector.objects.create(kind="livechat", line=make_line("Mine", users=(user,)), name="chat")
    theirs = Connector.objects.create(kind="livechat", line=make_line("Theirs", users=(other,)), name="chat")
    assert can(user, "connectors", "modify", mine)
    assert not can(user, "connectors", "modify", theirs)


def test_permitted_queryset_keeps_only_the_permitted_lines(make_user):
    user, other = make_user("u"), make_user("o")
    grant(user, lines_view="own")
    mine = make_line("Mine", users=(user,))
    make_line("Theirs", users=(other,))
    visible = permitted_queryset(user=user, area="lines", action="view", queryset=OpenLine.objects.all())
    assert list(visible) == [mine]


def test_objects_without_owners_are_refused_loudly(make_user):
    user = make_user("u")
    grant(user, lines_view="own")
    with pytest.raises(TypeError):
        can(user, "lines", "view", object())


def test_unknown_area_is_a_programming_error(make_user):
    with pytest.raises(ValueError):
        can(make_user("u"), "lines", "perform")


def test_default_roles_hold_the_reference_levels():
    levels = {
        role.name: {(p.area, p.action): p.level for p in role.permissions.all()}
        for role in Role.objects.prefetch_related("permissions")
    }
    assert set(levels["Administrator"].values()) == {3}
    assert levels["Chief executive"][("settings", "modify")] == 0
    assert {k: v for k, v in levels["Chief executive"].items() if k != ("settings", "modify")} == {
        k: 3 for k in levels["Chief executive"] if k != ("settings", "modify")
    }
    # Narrowed by 0010_narrow_default_roles (issue 18): only administrators configure lines and channels.
    assert levels["Manager"] == {
        ("lines", "view"): 1,
        ("lines", "modify"): 0,
        ("connectors", "modify"): 0,
        ("statistics", "view"): 1,
        ("history", "view"): 1,
        ("join", "perform"): 1,
        ("vote_head", "perform"): 0,
        ("settings", "modify"): 0,
    }
