"""Reads shared by the chat list, its export and the reports: one filtered, permission-scoped query."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any, cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from contactcenter.permissions import Level, user_access_level, user_colleague_ids
from kpi.columns import COLUMNS_BY_KEY, DEFAULT_COLUMNS, columns_clean
from kpi.crm_link import crm_bound_q
from kpi.models import ChatListPreference
from openlines.session_models import Session, SessionOffer, SessionParticipant, SessionStatus, StatusGroup

AnyUser = AbstractBaseUser | AnonymousUser

_GROUP_Q = {
    StatusGroup.WAITING_AGENT: Q(status__lt=SessionStatus.OPERATOR),
    StatusGroup.AGENT_ANSWERED: Q(status__gte=SessionStatus.OPERATOR, status__lt=SessionStatus.CLOSE),
    StatusGroup.CLOSED: Q(status__gte=SessionStatus.CLOSE),
}


def statistics_level(*, user: AnyUser) -> Level:
    return user_access_level(user=user, area="statistics", action="view")


def _owned_by(user_ids: set[int]) -> Q:
    """Sessions owned (agent, offered, participant: `Session.owner_user_ids`) by any of `user_ids`."""
    return (
        Q(operator_id__in=user_ids)
        | Exists(SessionParticipant.objects.filter(session=OuterRef("pk"), user_id__in=user_ids))
        | Exists(SessionOffer.objects.filter(session=OuterRef("pk"), user_id__in=user_ids))
    )


def sessions_visible(*, user: AnyUser) -> QuerySet[Session]:
    """Sessions the user's statistics level lets them see: own, their department's, or any."""
    level = statistics_level(user=user)
    sessions = Session.objects.all()
    if level == Level.NONE:
        return sessions.none()
    if level == Level.ANY:
        return sessions
    ids = {cast(int, user.pk)} if level == Level.OWN else user_colleague_ids(user=user)
    return sessions.filter(_owned_by(ids))


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _pks(values: Any) -> list[int]:
    """Ids from model instances or ids: plain values keep the query free of subqueries."""
    return [int(getattr(value, "pk", value)) for value in values]


def _yes_no(value: str) -> bool:
    return value == "Y"


def sessions_filter(sessions: QuerySet[Session], filters: dict[str, Any]) -> QuerySet[Session]:
    """Apply the chat list's filters (`ChatListFilterForm.filters()`); unknown keys are ignored."""
    f = filters
    if f.get("line"):
        sessions = sessions.filter(line_id__in=_pks(f["line"]))
    if f.get("mode"):
        sessions = sessions.filter(mode=f["mode"])
    if f.get("created_from"):
        sessions = sessions.filter(created_at__gte=_day_start(f["created_from"]))
    if f.get("created_to"):
        sessions = sessions.filter(created_at__lt=_day_start(f["created_to"] + timedelta(days=1)))
    if f.get("closed_from"):
        sessions = sessions.filter(date_close__gte=_day_start(f["closed_from"]))
    if f.get("closed_to"):
        sessions = sessions.filter(date_close__lt=_day_start(f["closed_to"] + timedelta(days=1)))
    if f.get("operator") or f.get("bot"):
        who = Q()
        if f.get("operator"):
            who |= Q(operator_id__in=_pks(f["operator"]))
        if f.get("bot"):
            who |= Q(bot_id__in=_pks(f["bot"]))
        sessions = sessions.filter(who)
    if f.get("client"):
        sessions = sessions.filter(chat__client__name__icontains=f["client"])
    if f.get("channel"):
        sessions = sessions.filter(source__in=f["channel"])
    if f.get("session_id"):
        sessions = sessions.filter(pk=f["session_id"])
    if f.get("extra_url"):
        sessions = sessions.filter(extra_url__icontains=f["extra_url"])
    if f.get("status_group"):
        group_q = Q()
        for group in f["status_group"]:
            group_q |= _GROUP_Q[StatusGroup(group)]
        sessions = sessions.filter(group_q)
    if f.get("status"):
        sessions = sessions.filter(status__in=f["status"])
    if f.get("crm"):
        bound = crm_bound_q()
        sessions = sessions.filter(bound) if _yes_no(f["crm"]) else sessions.exclude(bound)
    if f.get("worktime"):
        sessions = sessions.filter(worktime=_yes_no(f["worktime"]))
    if f.get("spam"):
        sessions = sessions.filter(spam=_yes_no(f["spam"]))
    if f.get("late"):
        late = Q(kpi__breaches__gt=0)
        sessions = sessions.filter(late) if _yes_no(f["late"]) else sessions.exclude(late)
    if f.get("message_count_min") is not None:
        sessions = sessions.filter(message_count__gte=f["message_count_min"])
    if f.get("message_count_max") is not None:
        sessions = sessions.filter(message_count__lte=f["message_count_max"])
    if f.get("vote"):
        sessions = sessions.filter(vote__in=f["vote"])
    if f.get("vote_head"):
        sessions = sessions.filter(vote_head__in=f["vote_head"])
    return sessions


def sessions_sort(sessions: QuerySet[Session], sort: str | None) -> QuerySet[Session]:
    """Default `ID DESC` (reference §2.6); ties broken by id so pages are stable."""
    if not sort:
        return sessions.order_by("-id")
    descending = sort.startswith("-")
    column = COLUMNS_BY_KEY.get(sort.lstrip("-"))
    if column is None or column.order_by is None:
        return sessions.order_by("-id")
    if column.order_by == "id":
        return sessions.order_by("-id" if descending else "id")
    if column.order_by.startswith("kpi__"):
        # Every session has its KPI row (created with the session, backfilled by migration 0003): an
        # inner join lets PostgreSQL walk the KPI index instead of sorting a million joined rows.
        sessions = sessions.filter(kpi__isnull=False)
        if descending:
            return sessions.order_by(F(column.order_by).desc(nulls_last=True), F("kpi__session_id").desc())
        return sessions.order_by(F(column.order_by).asc(nulls_last=True), F("kpi__session_id").asc())
    if not _nullable(column.order_by):
        # Plain ordering, so that an index on (column, id) serves it.
        return sessions.order_by(*((f"-{column.order_by}", "-id") if descending else (column.order_by, "id")))
    # Empty values last either way, on every database (PostgreSQL and SQLite disagree by default).
    if descending:
        return sessions.order_by(F(column.order_by).desc(nulls_last=True), "-id")
    return sessions.order_by(F(column.order_by).asc(nulls_last=True), "id")


def _nullable(path: str) -> bool:
    """Can the value at `path` (e.g. `kpi__first_response`) from a session be NULL?"""
    model: Any = Session
    nullable = False
    *relations, name = path.split("__")
    for relation in relations:
        field = model._meta.get_field(relation)
        # A missing related row (reverse one-to-one, nullable foreign key) also gives NULL.
        nullable = nullable or field.null or field.auto_created
        model = field.related_model
    return nullable or bool(model._meta.get_field(name).null)


def session_list(*, user: AnyUser, filters: dict[str, Any]) -> QuerySet[Session]:
    """The chat list as the user may see it, filtered and sorted, with what the cells need joined in."""
    sessions = sessions_filter(sessions_visible(user=user), filters)
    sessions = sessions.select_related("line", "chat__client", "operator", "bot", "kpi")
    return sessions_sort(sessions, filters.get("sort"))


def session_page(
    *, user: AnyUser, filters: dict[str, Any], page: int, per_page: int
) -> tuple[list[Session], bool]:
    """One page and whether another follows; no COUNT(*) over millions of rows for the first page."""
    offset = (page - 1) * per_page
    rows = list(session_list(user=user, filters=filters)[offset : offset + per_page + 1])
    return rows[:per_page], len(rows) > per_page


def chat_list_columns(*, user: AnyUser) -> list[str]:
    preference = ChatListPreference.objects.filter(user_id=cast(int, user.pk)).first()
    if preference is None or not preference.columns:
        return list(DEFAULT_COLUMNS)
    return columns_clean(list(preference.columns))
