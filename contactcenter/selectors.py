"""Reads about staff: who is available for open lines right now (reference §4.4)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contactcenter.db import SqlNames, any_of_sql
from contactcenter.models import Absence, Department, EmployeeProfile, Presence, WorkDay


class Unavailability(enum.StrEnum):
    """Why an agent cannot take an enquiry; the names follow the reference's REASON_RETURN values."""

    DISMISSAL = "dismissal"
    VACATION = "vacation"
    NONWORKING = "nonworking"
    OFFLINE = "offline"

    @property
    def label(self) -> str:
        return str(
            {
                Unavailability.DISMISSAL: _("dismissed"),
                Unavailability.VACATION: _("on leave"),
                Unavailability.NONWORKING: _("not working now"),
                Unavailability.OFFLINE: _("offline"),
            }[self]
        )


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: Unavailability | None = None

    def __bool__(self) -> bool:
        return self.available


AVAILABLE = Availability(available=True)


def user_is_absent(*, user_id: int, on: datetime | None = None) -> bool:
    day = timezone.localdate(on or timezone.now())
    return Absence.objects.filter(user_id=user_id, date_from__lte=day, date_to__gte=day).exists()


def user_is_online(*, user_id: int, now: datetime | None = None) -> bool:
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.PRESENCE_IDLE_SECONDS)
    return Presence.objects.filter(user_id=user_id, last_seen__gte=cutoff).exists()


def open_work_day(*, user_id: int) -> WorkDay | None:
    return WorkDay.objects.filter(user_id=user_id).exclude(state=WorkDay.State.CLOSED).first()


def agent_availability(
    *, user: AbstractBaseUser, check_available: bool, now: datetime | None = None
) -> Availability:
    """Is this agent available for a line now?

    Dismissed users are never available. When the line checks availability (`check_available`), the
    agent must also not be absent, not have paused open lines, and either have an open, unpaused work
    day (if they track work time) or be online (if they do not).
    """
    if not user.is_active:
        return Availability(False, Unavailability.DISMISSAL)
    if not check_available:
        return AVAILABLE
    now = now or timezone.now()
    user_id = user.pk
    if user_is_absent(user_id=user_id, on=now):
        return Availability(False, Unavailability.VACATION)
    profile = EmployeeProfile.objects.filter(user_id=user_id).first()
    if profile is not None and profile.openlines_paused:
        return Availability(False, Unavailability.NONWORKING)
    if profile is not None and profile.uses_time_tracking:
        work_day = open_work_day(user_id=user_id)
        if work_day is None or work_day.state != WorkDay.State.OPEN:
            return Availability(False, Unavailability.NONWORKING)
        return AVAILABLE
    if not user_is_online(user_id=user_id, now=now):
        return Availability(False, Unavailability.OFFLINE)
    return AVAILABLE


def availability_sql(
    user_column: str, *, check_available: bool, now: datetime | None = None
) -> tuple[str, list[Any]]:
    """The rule of `agent_availability` as an SQL condition on the user whose id is in `user_column` (a
    column of the surrounding statement), with its parameters: routing asks it for many users in one
    statement, and ingest inside the query that locks the session. Written in SQL because routing builds
    it on every decision and the ORM's compilation of the same query cost more than PostgreSQL's answer
    (bench/routing.py)."""
    user_model = get_user_model()
    user = SqlNames(user_model, connection)
    pk = user[user_model._meta.pk.name]
    # Every name here comes from the models' metadata; every value travels as a parameter.
    active = f"au.{pk} = {user_column} AND au.{user['is_active']}"
    condition = f"EXISTS (SELECT 1 FROM {user.table} au WHERE {active})"  # noqa: S608
    if not check_available:
        return condition, []
    now = now or timezone.now()
    profile, absence = SqlNames(EmployeeProfile, connection), SqlNames(Absence, connection)
    work_day, presence = SqlNames(WorkDay, connection), SqlNames(Presence, connection)

    def profile_says(flag: str) -> str:
        return (
            f"EXISTS (SELECT 1 FROM {profile.table} ep"  # noqa: S608
            f" WHERE ep.{profile['user']} = {user_column} AND ep.{profile[flag]})"
        )

    absent = (
        f"EXISTS (SELECT 1 FROM {absence.table} ab WHERE ab.{absence['user']} = {user_column}"  # noqa: S608
        f" AND ab.{absence['date_from']} <= %s AND ab.{absence['date_to']} >= %s)"
    )
    working = (
        f"EXISTS (SELECT 1 FROM {work_day.table} wd"  # noqa: S608
        f" WHERE wd.{work_day['user']} = {user_column} AND wd.{work_day['state']} = %s)"
    )
    online = (
        f"EXISTS (SELECT 1 FROM {presence.table} pr"  # noqa: S608
        f" WHERE pr.{presence['user']} = {user_column} AND pr.{presence['last_seen']} >= %s)"
    )
    # Time trackers count when their work day is open, everyone else when online (see agent_availability).
    condition += (
        f" AND NOT {absent} AND NOT {profile_says('openlines_paused')}"
        f" AND CASE WHEN {profile_says('uses_time_tracking')} THEN {working} ELSE {online} END"
    )
    day = connection.ops.adapt_datefield_value(timezone.localdate(now))
    cutoff = connection.ops.adapt_datetimefield_value(now - timedelta(seconds=settings.PRESENCE_IDLE_SECONDS))
    return condition, [day, day, str(WorkDay.State.OPEN), cutoff]


# An SQL condition on a user id column of the surrounding statement, and its parameters.
UserCondition = Callable[[str], tuple[str, list[Any]]]


def user_ids_where(user_ids: Iterable[int], conditions: list[UserCondition]) -> set[int]:
    """Of `user_ids`, those meeting every condition, in one statement."""
    ids = sorted({int(uid) for uid in user_ids})
    if not ids:
        return set()
    user_model = get_user_model()
    user = SqlNames(user_model, connection)
    pk = f"x.{user[user_model._meta.pk.name]}"
    in_ids, ids_param = any_of_sql(pk, ids, connection)
    built = [condition(pk) for condition in conditions]
    select = f"SELECT {pk} FROM {user.table} x WHERE {in_ids}"  # noqa: S608  (names from the model)
    with connection.cursor() as cursor:
        cursor.execute(
            " AND ".join([select, *(sql for sql, _ in built)]),
            [ids_param, *(param for _, params in built for param in params)],
        )
        return {int(row[0]) for row in cursor.fetchall()}


def available_user_ids(
    *, user_ids: Iterable[int], check_available: bool, now: datetime | None = None
) -> set[int]:
    """The subset of `user_ids` available for a line, in one query whatever their number (used by routing)."""
    return user_ids_where(user_ids, [availability_condition(check_available=check_available, now=now)])


def availability_condition(*, check_available: bool, now: datetime | None = None) -> UserCondition:
    """`availability_sql` as a condition for `user_ids_where`."""
    return lambda column: availability_sql(column, check_available=check_available, now=now)


def department_member_ids(*, department: Department, include_subdepartments: bool = True) -> set[int]:
    """Active and inactive members of a department (and, by default, of its sub-departments)."""
    ids = {department.pk}
    if include_subdepartments:
        frontier = {department.pk}
        while frontier:
            frontier = (
                set(Department.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)) - ids
            )
            ids |= frontier
    return set(
        EmployeeProfile.objects.filter(Q(departments__in=ids)).values_list("user_id", flat=True).distinct()
    )
