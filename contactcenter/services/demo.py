"""Demo data for a fresh database: a small company with an administrator, a supervisor and agents."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from contactcenter.models import Department, EmployeeProfile

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


def register_demo_loader(loader: Callable[[], None]) -> Callable[[], None]:
    _extra_loaders.append(loader)
    return loader


@dataclass(frozen=True)
class DemoLogins:
    usernames: list[str]
    password: str


def database_is_empty() -> bool:
    return not get_user_model().objects.exists()


@transaction.atomic
def demo_data_load(*, password: str | None = None) -> DemoLogins:
    password = password or secrets.token_urlsafe(9)
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
    for loader in _extra_loaders:
        loader()
    return DemoLogins(usernames=[row[0] for row in DEMO_USERS], password=password)
