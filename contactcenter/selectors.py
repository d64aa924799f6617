"""Reads about staff: who is available for open lines right now (reference §4.4)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

import contactcenter.db  # noqa: F401  (registers the any_of lookup)
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


def available_users(*, check_available: bool, now: datetime | None = None) -> QuerySet[AbstractBaseUser]:
    """The users available for a line: active, and with `check_available` also present and working."""
    from django.contrib.auth import get_user_model

    now = now or timezone.now()
    users = get_user_model().objects.filter(is_active=True)
    if not check_available:
        return users
    day = timezone.localdate(now)
    cutoff = now - timedelta(seconds=settings.PRESENCE_IDLE_SECONDS)
    user = OuterRef("pk")
    users = users.annotate(
        absent=Exists(Absence.objects.filter(user=user, date_from__lte=day, date_to__gte=day)),
        paused=Coalesce("profile__openlines_paused", Value(False)),
        tracking=Coalesce("profile__uses_time_tracking", Value(False)),
        working=Exists(WorkDay.objects.filter(user=user, state=WorkDay.State.OPEN)),
        online=Exists(Presence.objects.filter(user=user, last_seen__gte=cutoff)),
    ).filter(absent=False, paused=False)
    # Time trackers count when their work day is open, everyone else when online (see agent_availability).
    return users.filter(Q(tracking=True, working=True) | Q(tracking=False, online=True))


def available_user_ids(
    *, user_ids: list[int], check_available: bool, now: datetime | None = None
) -> set[int]:
    """The subset of `user_ids` available for a line, in one query whatever their number (used by routing)."""
    users = available_users(check_available=check_available, now=now).filter(pk__any_of=set(user_ids))
    return set(users.values_list("pk", flat=True))


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
