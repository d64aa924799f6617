"""The chat list's columns (reference §2.6): labels, default set, sort keys and cell values.

One table drives the page, the gear menu, sorting and the CSV/XLSX export, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from contactcenter.connectors.kinds import ConnectorKind
from kpi.crm_link import crm_text
from openlines.session_models import Session, SessionStatus, status_group


@dataclass(frozen=True)
class Column:
    key: str
    label: Any
    default: bool
    value: Callable[[Session], Any]
    order_by: str | None = None


def _kpi(session: Session, field: str) -> int | None:
    kpi = getattr(session, "kpi", None)
    return getattr(kpi, field) if kpi is not None else None


def _minus_bot(value: int | None, session: Session) -> int | None:
    return None if value is None else max(value - session.time_bot, 0)


def _operator_name(session: Session) -> str:
    if session.operator is not None:
        return session.operator.get_full_name() or session.operator.get_username()
    if session.bot is not None:
        return str(session.bot)
    return ""


def _yes_no(value: bool) -> str:
    return str(_("Yes") if value else _("No"))


def _channel(session: Session) -> str:
    try:
        return str(ConnectorKind(session.source).label)
    except ValueError:
        return session.source


def _vote(session: Session) -> str:
    return {5: str(_("Like")), 1: str(_("Dislike"))}.get(session.vote, "")


COLUMNS: list[Column] = [
    Column("id", _("ID"), True, lambda s: s.pk, "id"),
    Column("line", _("Line"), False, lambda s: s.line.line_name, "line__line_name"),
    Column("mode", _("Type"), True, lambda s: str(s.get_mode_display()), "mode"),
    Column("status", _("Status"), True, lambda s: str(status_group(s.status).label), "status"),
    Column("status_detail", _("Detailed status"), False, lambda s: str(s.get_status_display()), "status"),
    Column("spam", _("Spam"), True, lambda s: _yes_no(s.spam), "spam"),
    Column("source", _("Channel"), True, _channel, "source"),
    Column("client", _("Client"), True, lambda s: s.chat.client.name, "chat__client__name"),
    Column("crm", _("CRM"), True, crm_text, None),
    Column("action", _("Action"), True, lambda s: "", None),
    Column("extra_url", _("Source page"), True, lambda s: s.extra_url, "extra_url"),
    Column(
        "pause", pgettext_lazy("pinned conversation", "Assigned"), False, lambda s: _yes_no(s.pause), "pause"
    ),
    Column("worktime", _("Business hours"), False, lambda s: _yes_no(s.worktime), "worktime"),
    Column("message_count", _("Messages"), True, lambda s: s.message_count, "message_count"),
    Column("operator", _("Agent"), True, _operator_name, "operator__username"),
    Column("date_create", _("Created"), True, lambda s: s.created_at, "created_at"),
    Column("date_operator", _("Forwarded to agent"), False, lambda s: s.date_operator, "date_operator"),
    Column("date_first_answer", _("First answer"), True, lambda s: s.date_first_answer, "date_first_answer"),
    Column(
        "date_operator_answer", _("Accepted"), False, lambda s: s.date_operator_answer, "date_operator_answer"
    ),
    Column("date_last_message", _("Last message"), True, lambda s: s.date_last_message, "date_last_message"),
    Column(
        "date_operator_close",
        _("Closed by agent"),
        True,
        lambda s: s.date_operator_close,
        "date_operator_close",
    ),
    Column("date_close", _("Closed"), False, lambda s: s.date_close, "date_close"),
    Column("date_modify", _("Modified"), False, lambda s: s.modified_at, "modified_at"),
    Column(
        "time_first_answer", _("Waiting for agent"), True, lambda s: s.time_first_answer, "time_first_answer"
    ),
    Column(
        "time_answer_wo_bot",
        _("Time to accept (without bot)"),
        False,
        lambda s: _minus_bot(s.time_answer, s),
        None,
    ),
    Column(
        "time_close_wo_bot",
        _("Time to close (without bot)"),
        False,
        lambda s: _minus_bot(s.time_close, s),
        None,
    ),
    Column("time_dialog_wo_bot", _("Dialog time"), True, lambda s: _minus_bot(s.time_dialog, s), None),
    Column("time_bot", _("Bot time"), True, lambda s: s.time_bot, "time_bot"),
    Column(
        "kpi_first",
        _("Initial response time"),
        True,
        lambda s: _kpi(s, "first_response"),
        "kpi__first_response",
    ),
    Column(
        "kpi_full", _("Total response time"), True, lambda s: _kpi(s, "total_response"), "kpi__total_response"
    ),
    Column(
        "kpi_average",
        _("Average response time"),
        True,
        lambda s: _kpi(s, "average_response"),
        "kpi__average_response",
    ),
    Column(
        "kpi_max", _("Maximum response time"), True, lambda s: _kpi(s, "max_response"), "kpi__max_response"
    ),
    Column("vote", _("Client rating"), True, _vote, "vote"),
    Column("comment_head", _("Supervisor comment"), True, lambda s: s.comment_head, None),
    Column("vote_head", _("Supervisor rating"), True, lambda s: s.vote_head or "", "vote_head"),
]

COLUMNS_BY_KEY: dict[str, Column] = {column.key: column for column in COLUMNS}
DEFAULT_COLUMNS: list[str] = [column.key for column in COLUMNS if column.default]
# Durations are seconds in the export and h:mm:ss on the page.
DURATION_COLUMNS = {
    "time_first_answer",
    "time_answer_wo_bot",
    "time_close_wo_bot",
    "time_dialog_wo_bot",
    "time_bot",
    "kpi_first",
    "kpi_full",
    "kpi_average",
    "kpi_max",
}
NOT_EXPORTED = {"action"}
STATUS_CHOICES = SessionStatus.choices


def columns_clean(keys: list[str]) -> list[str]:
    """Known keys in table order; the id column is always shown."""
    chosen = set(keys) | {"id"}
    return [column.key for column in COLUMNS if column.key in chosen]


def duration_display(seconds: int | None) -> str:
    if seconds is None:
        return ""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def cell_display(column: Column, session: Session) -> str:
    value = column.value(session)
    if value is None:
        return ""
    if column.key in DURATION_COLUMNS:
        return duration_display(value)
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def cell_export(column: Column, session: Session) -> Any:
    value = column.value(session)
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else value
