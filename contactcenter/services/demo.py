"""Demo data for a fresh database: a small company with an administrator, a supervisor and agents."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from contactcenter.models import Department, EmployeeProfile, Role, RoleAssignment

DEMO_USERS = [
    # username, first name, last name, position, department, superuser, staff
    ("admin", "Alex", "Admin", "Administrator", None, True, True),
    ("supervisor", "Sofia", "Supervisor", "Head of support", "Support", False, True),
    ("agent1", "Adam", "Agent", "Support agent", "Support", False, True),
    ("agent2", "Bea", "Agent", "Support agent", "Support", False, True),
    ("agent3", "Carl", "Agent", "Sales agent", "Sales", False, True),
]

# Other apps add their demo objects (lines, connectors, CRM records) by registering a loader here.
_extra_loaders: list[Callable[[], None]] = []
# History loaders play past conversations through the engine, one transaction per step as in real use, so
# they run after the demo objects are committed.
_history_loaders: list[Callable[[], object]] = []


def register_demo_loader(loader: Callable[[], None]) -> Callable[[], None]:
    _extra_loaders.append(loader)
    return loader


def register_demo_history_loader(loader: Callable[[], object]) -> Callable[[], object]:
    if loader not in _history_loaders:
        _history_loaders.append(loader)
    return loader


@dataclass(frozen=True)
class DemoLogins:
    usernames: list[str]
    password: str


def database_is_empty() -> bool:
    return not get_user_model().objects.exists()


def demo_data_load(*, password: str | None = None, history: bool = True) -> DemoLogins:
    password = password or secrets.token_urlsafe(9)
    with transaction.atomic():
        logins = _demo_objects_load(password)
    if history:
        for loader in _history_loaders:
            loader()
    return logins


def _demo_objects_load(password: str) -> DemoLogins:
    User = get_user_model()
    company = Department.objects.create(name="Company", sort=100)
    departments = {
        "Support": Department.objects.create(name="Support", parent=company, sort=200),
        "Sales": Department.objects.create(name="Sales", parent=company, sort=300),
    }
    users = {}
    for username, first, last, position, department, superuser, staff in DEMO_USERS:
        user = User.objects.create_user(
            username=username,
            password=password,
            first_name=first,
            last_name=last,
            email=f"{username}@example.com",
            is_superuser=superuser,
            is_staff=staff,
        )
        profile = EmployeeProfile.objects.create(user=user, work_position=position)
        if department:
            profile.departments.add(departments[department])
        users[username] = user
    company.head = users["admin"]
    company.save(update_fields=["head"])
    departments["Support"].head = users["supervisor"]
    departments["Support"].save(update_fields=["head"])
    # The supervisor reviews every conversation, joins them and rates them (the default role
    # "Chief executive": everything but the common settings).
    supervisor_role = Role.objects.filter(name="Chief executive").first()
    if supervisor_role is not None:
        RoleAssignment.objects.create(role=supervisor_role, user=users["supervisor"])
    for loader in _extra_loaders:
        loader()
    return DemoLogins(usernames=[row[0] for row in DEMO_USERS], password=password)
