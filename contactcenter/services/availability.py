"""Writes that change whether an agent can take enquiries: work day, open-lines pause, absences,
dismissal, presence. Each announces the change after commit through `availability_changed`."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.models import Absence, EmployeeProfile, Presence, WorkDay, WorkDayEvent
from contactcenter.selectors import Unavailability, open_work_day
from contactcenter.signals import availability_changed


def _announce(user_id: int, available: bool, reason: Unavailability | None = None) -> None:
    transaction.on_commit(
        lambda: availability_changed.send(
            sender=WorkDay, user_id=user_id, available=available, reason=reason.value if reason else ""
        )
    )


def _profile(user_id: int) -> EmployeeProfile:
    profile, _created = EmployeeProfile.objects.get_or_create(user_id=user_id)
    return profile


@transaction.atomic
def work_day_clock_in(*, user_id: int, at: datetime | None = None) -> WorkDay:
    at = at or timezone.now()
    if open_work_day(user_id=user_id) is not None:
        raise ValidationError(_("The work day is already open."))
    work_day = WorkDay.objects.create(user_id=user_id, state=WorkDay.State.OPEN, started_at=at)
    WorkDayEvent.objects.create(work_day=work_day, kind=WorkDayEvent.Kind.CLOCK_IN, at=at)
    _announce(user_id, True)
    return work_day


def _require_open_day(user_id: int) -> WorkDay:
    work_day = (
        WorkDay.objects.select_for_update()
        .filter(user_id=user_id)
        .exclude(state=WorkDay.State.CLOSED)
        .first()
    )
    if work_day is None:
        raise ValidationError(_("There is no open work day; clock in first."))
    return work_day


@transaction.atomic
def work_day_pause(*, user_id: int, at: datetime | None = None) -> WorkDay:
    work_day = _require_open_day(user_id)
    if work_day.state == WorkDay.State.PAUSED:
        raise ValidationError(_("The work day is already paused."))
    work_day.state = WorkDay.State.PAUSED
    work_day.save(update_fields=["state"])
    WorkDayEvent.objects.create(work_day=work_day, kind=WorkDayEvent.Kind.PAUSE, at=at or timezone.now())
    _announce(user_id, False, Unavailability.NONWORKING)
    return work_day


@transaction.atomic
def work_day_resume(*, user_id: int, at: datetime | None = None) -> WorkDay:
    work_day = _require_open_day(user_id)
    if work_day.state != WorkDay.State.PAUSED:
        raise ValidationError(_("The work day is not paused."))
    work_day.state = WorkDay.State.OPEN
    work_day.save(update_fields=["state"])
    WorkDayEvent.objects.create(work_day=work_day, kind=WorkDayEvent.Kind.RESUME, at=at or timezone.now())
    _announce(user_id, True)
    return work_day


@transaction.atomic
def work_day_clock_out(*, user_id: int, at: datetime | None = None) -> WorkDay:
    at = at or timezone.now()
    work_day = _require_open_day(user_id)
    work_day.state = WorkDay.State.CLOSED
    work_day.ended_at = at
    work_day.save(update_fields=["state", "ended_at"])
    WorkDayEvent.objects.create(work_day=work_day, kind=WorkDayEvent.Kind.CLOCK_OUT, at=at)
    _announce(user_id, False, Unavailability.NONWORKING)
    return work_day


@transaction.atomic
def openlines_pause_set(*, user_id: int, paused: bool) -> None:
    EmployeeProfile.objects.get_or_create(user_id=user_id)
    EmployeeProfile.objects.filter(user_id=user_id).update(openlines_paused=paused)
    _announce(user_id, not paused, Unavailability.NONWORKING if paused else None)


@transaction.atomic
def absence_create(
    *, user_id: int, date_from: date, date_to: date, kind: str = Absence.Kind.VACATION, note: str = ""
) -> Absence:
    if date_to < date_from:
        raise ValidationError({"date_to": _("The absence cannot end before it starts.")})
    absence = Absence.objects.create(
        user_id=user_id, kind=kind, date_from=date_from, date_to=date_to, note=note
    )
    leave_changes_announce(user_ids=[user_id])
    return absence


def leave_changes_announce(*, now: datetime | None = None, user_ids: Collection[int] | None = None) -> int:
    """Tell routing about agents whose leave began or ended since it was last told: the date moved onto an
    absence's first day or past its last, or an absence was added, changed or deleted (the admin writes
    them directly). Runs on every tick of the timer loop and after `absence_create`; several processes
    may run it at once, each change is claimed by one optimistic update. Returns how many were told."""
    today = timezone.localdate(now or timezone.now())
    on_leave = Absence.objects.filter(date_from__lte=today, date_to__gte=today)
    told = EmployeeProfile.objects.filter(leave_announced=True)
    if user_ids is not None:
        on_leave, told = on_leave.filter(user_id__in=user_ids), told.filter(user_id__in=user_ids)
    leaving = set(on_leave.values_list("user_id", flat=True))
    announced = 0
    for user_id in sorted(leaving ^ set(told.values_list("user_id", flat=True))):
        absent = user_id in leaving
        with transaction.atomic():
            _profile(user_id)
            claimed = EmployeeProfile.objects.filter(user_id=user_id, leave_announced=not absent).update(
                leave_announced=absent
            )
            if claimed:
                _announce(user_id, not absent, Unavailability.VACATION if absent else None)
                announced += 1
    return announced


@transaction.atomic
def user_dismiss(*, user_id: int) -> None:
    get_user_model().objects.filter(pk=user_id).update(is_active=False)
    _announce(user_id, False, Unavailability.DISMISSAL)


@transaction.atomic
def user_reinstate(*, user_id: int) -> None:
    get_user_model().objects.filter(pk=user_id).update(is_active=True)
    _announce(user_id, True)


def presence_connect(*, user_id: int, at: datetime | None = None) -> None:
    with transaction.atomic():
        presence, _created = Presence.objects.select_for_update().get_or_create(user_id=user_id)
        was_online = presence.connections > 0
        Presence.objects.filter(pk=presence.pk).update(
            connections=F("connections") + 1, last_seen=at or timezone.now()
        )
        if not was_online:
            _announce(user_id, True)


def presence_heartbeat(*, user_id: int, at: datetime | None = None) -> None:
    at = at or timezone.now()
    cutoff = at - timedelta(seconds=settings.PRESENCE_IDLE_SECONDS)
    with transaction.atomic():
        # The usual case, one UPDATE: the user was online and stays online.
        if Presence.objects.filter(user_id=user_id, last_seen__gte=cutoff).update(last_seen=at):
            return
        # Offline until now (the idle limit expired while the socket stayed open, or never seen): back
        # online, and routing must hear of it like of a new connection.
        presence, _created = Presence.objects.select_for_update().get_or_create(
            user_id=user_id, defaults={"last_seen": at}
        )
        Presence.objects.filter(pk=presence.pk).update(last_seen=at)
        _announce(user_id, True)


def presence_disconnect(*, user_id: int) -> None:
    """The last socket closing makes the user offline at once; others keep them online."""
    with transaction.atomic():
        presence = Presence.objects.select_for_update().filter(user_id=user_id).first()
        if presence is None:
            return
        remaining = max(presence.connections - 1, 0)
        presence.connections = remaining
        if remaining == 0:
            presence.last_seen = None
        presence.save(update_fields=["connections", "last_seen"])
        if remaining == 0:
            _announce(user_id, False, Unavailability.OFFLINE)
