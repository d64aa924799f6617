"""Helpers for tests of access roles: give users levels, make lines with queues."""

from __future__ import annotations

from typing import Any

import pytest

from contactcenter.models import Department, EmployeeProfile, Role, RoleAssignment, RolePermission
from openlines.models import OpenLine, QueueMember

LEVELS = {"none": 0, "own": 1, "department": 2, "any": 3}


def role_with(name: str, **levels: str) -> Role:
    """A role with levels given as area_action="own" etc., e.g. role_with("r", lines_view="any")."""
    role = Role.objects.create(name=name)
    for key, level in levels.items():
        area, action = key.rsplit("_", 1)
        RolePermission.objects.create(role=role, area=area, action=action, level=LEVELS[level])
    return role


def grant(user: Any, **levels: str) -> Role:
    role = role_with(f"role of {user.username} {Role.objects.count()}", **levels)
    RoleAssignment.objects.create(role=role, user=user)
    return role


EVERY_AREA_BUT_SETTINGS = (
    "lines_view",
    "lines_modify",
    "connectors_modify",
    "statistics_view",
    "history_view",
    "join_perform",
    "vote_head_perform",
)


def grant_everything(user: Any, *, settings: bool = False) -> Role:
    """Every area at the "any" level (the common settings too when `settings`)."""
    areas = EVERY_AREA_BUT_SETTINGS + (("settings_modify",) if settings else ())
    return grant(user, **dict.fromkeys(areas, "any"))


def drop_default_assignments() -> None:
    """The default Manager role goes to all employees; matrix tests start from nobody having anything."""
    RoleAssignment.objects.filter(all_employees=True).delete()


def department(name: str, *members: Any, parent: Department | None = None, head: Any = None) -> Department:
    dep = Department.objects.create(name=name, parent=parent, head=head)
    for user in members:
        EmployeeProfile.objects.get_or_create(user=user)[0].departments.add(dep)
    return dep


def make_line(name: str, *, users: tuple = (), departments: tuple = (), modified_by: Any = None) -> OpenLine:
    line = OpenLine.objects.create(line_name=name, modified_by=modified_by)
    sort = 0
    for user in users:
        sort += 10
        QueueMember.objects.create(line=line, user=user, sort=sort)
    for dep in departments:
        sort += 10
        QueueMember.objects.create(line=line, department=dep, sort=sort)
    return line


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    """Import into a test module to hash passwords cheaply there (test users are created by the dozen)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
