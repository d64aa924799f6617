"""Reports per line, agent and period (/reports/): the figures behind each chart and its CSV.

Every chart reads the same permission-scoped session query as the chat list (`kpi.selectors`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kpi.forms import IdsChoiceField
from kpi.models import KpiClock
from kpi.selectors import sessions_filter, sessions_visible
from openlines.models import OpenLine
from openlines.session_models import Session

AnyUser = AbstractBaseUser | AnonymousUser
DEFAULT_DAYS = 30
MAX_DAYS = 366

# Upper bounds (seconds) of the first-answer buckets; the last bucket is open.
FIRST_ANSWER_BUCKETS: list[tuple[int | None, Any]] = [
    (60, _("under 1 min")),
    (300, _("1-5 min")),
    (900, _("5-15 min")),
    (3600, _("15-60 min")),
    (4 * 3600, _("1-4 h")),
    (None, _("over 4 h")),
]
WEEKDAYS = [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")]


class ReportForm(forms.Form):
    line = IdsChoiceField(label=_("Line"), queryset=OpenLine.objects.order_by("line_name"), required=False)
    operator = IdsChoiceField(
        label=_("Agent"),
        queryset=get_user_model().objects.filter(is_staff=True).order_by("username"),
        required=False,
    )
    date_from = forms.DateField(label=_("From"), required=False)
    date_to = forms.DateField(label=_("To"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if start > end:
                self.add_error("date_to", _("The end date is before the start date."))
            elif (end - start).days >= MAX_DAYS:
                self.add_error("date_to", _("A report covers at most a year."))
        return data

    def params(self) -> dict[str, Any]:
        """Valid input with the period defaulting to the last 30 days."""
        self.is_valid()
        # An unbound form (the page opened without a query string) has no cleaned data at all.
        cleaned = self.cleaned_data if self.is_bound else {}
        data = {key: value for key, value in cleaned.items() if value not in (None, "", [])}
        today = timezone.localdate()
        end: date = data.get("date_to") or today
        start: date = data.get("date_from") or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end or (end - start).days >= MAX_DAYS:
            start, end = today - timedelta(days=DEFAULT_DAYS - 1), today
        data["date_from"], data["date_to"] = start, end
        return data


@dataclass
class Chart:
    title: str
    kind: str  # Chart.js type: bar, line, doughnut
    labels: list[str]
    datasets: list[tuple[str, list[float]]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "labels": self.labels,
            "datasets": [{"label": label, "data": values} for label, values in self.datasets],
        }


CHARTS = (
    "conversations",
    "agents",
    "first_answer",
    "kpi_breach",
    "client_votes",
    "head_votes",
    "hours",
    "weekdays",
)


def report_sessions(*, user: AnyUser, params: dict[str, Any]) -> QuerySet[Session]:
    return sessions_filter(
        sessions_visible(user=user),
        {
            "line": params.get("line"),
            "operator": params.get("operator"),
            "created_from": params["date_from"],
            "created_to": params["date_to"],
        },
    )


def _agent_name(row: Mapping[str, Any]) -> str:
    full = f"{row.get('operator__first_name') or ''} {row.get('operator__last_name') or ''}".strip()
    return full or row.get("operator__username") or str(_("(no agent)"))


def report_build(*, user: AnyUser, params: dict[str, Any]) -> dict[str, Chart]:
    sessions = report_sessions(user=user, params=params)
    start: date = params["date_from"]
    end: date = params["date_to"]
    tz = timezone.get_current_timezone()

    per_day = dict(
        sessions.annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("day", "n")
    )
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    conversations = Chart(
        str(_("Conversations per day")),
        "line",
        [day.isoformat() for day in days],
        [(str(_("Conversations")), [per_day.get(day, 0) for day in days])],
    )

    agent_rows = list(
        sessions.values("operator_id", "operator__username", "operator__first_name", "operator__last_name")
        .annotate(n=Count("id"))
        .order_by("-n")[:50]
    )
    agents = Chart(
        str(_("Conversations per agent")),
        "bar",
        [_agent_name(row) for row in agent_rows],
        [(str(_("Conversations")), [row["n"] for row in agent_rows])],
    )

    bucket_counts: dict[str, Any] = {}
    low = 0
    for index, (high, _label) in enumerate(FIRST_ANSWER_BUCKETS):
        condition = Q(time_first_answer__gte=low)
        if high is not None:
            condition &= Q(time_first_answer__lt=high)
            low = high
        bucket_counts[f"b{index}"] = Count("id", filter=condition)
    bucket_counts["none"] = Count("id", filter=Q(time_first_answer__isnull=True))
    buckets = sessions.aggregate(**bucket_counts)
    first_answer = Chart(
        str(_("Time to first answer")),
        "bar",
        [str(label) for _high, label in FIRST_ANSWER_BUCKETS] + [str(_("no answer"))],
        [
            (
                str(_("Conversations")),
                [buckets[f"b{i}"] for i in range(len(FIRST_ANSWER_BUCKETS))] + [buckets["none"]],
            )
        ],
    )

    clock_rows = list(
        KpiClock.objects.filter(session__in=sessions.values("pk"), due_at__isnull=False)
        .values(
            "session__operator_id",
            "session__operator__username",
            "session__operator__first_name",
            "session__operator__last_name",
        )
        .annotate(total=Count("id"), late=Count("id", filter=Q(overdue_at__isnull=False)))
        .order_by("-total")[:50]
    )
    kpi_breach = Chart(
        str(_("Late answers (KPI breach rate, %)")),
        "bar",
        [_agent_name({k.replace("session__", ""): v for k, v in row.items()}) for row in clock_rows],
        [
            (
                str(_("Late answers, %")),
                [round(100.0 * row["late"] / row["total"], 1) if row["total"] else 0.0 for row in clock_rows],
            )
        ],
    )

    votes = sessions.aggregate(
        like=Count("id", filter=Q(vote=5)),
        dislike=Count("id", filter=Q(vote=1)),
        none=Count("id", filter=~Q(vote__in=[1, 5])),
        **{f"h{n}": Count("id", filter=Q(vote_head=n)) for n in range(0, 6)},
    )
    client_votes = Chart(
        str(_("Client ratings")),
        "doughnut",
        [str(_("Like")), str(_("Dislike")), str(_("Not rated"))],
        [(str(_("Conversations")), [votes["like"], votes["dislike"], votes["none"]])],
    )
    head_votes = Chart(
        str(_("Supervisor ratings")),
        "doughnut",
        ["★" * n for n in range(5, 0, -1)] + [str(_("Not rated"))],
        [(str(_("Conversations")), [votes[f"h{n}"] for n in range(5, 0, -1)] + [votes["h0"]])],
    )

    per_hour = dict(
        sessions.annotate(hour=ExtractHour("created_at", tzinfo=tz))
        .values("hour")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("hour", "n")
    )
    hours = Chart(
        str(_("Load by hour of day")),
        "bar",
        [f"{h:02d}" for h in range(24)],
        [(str(_("Conversations")), [per_hour.get(h, 0) for h in range(24)])],
    )
    per_weekday = dict(
        sessions.annotate(weekday=ExtractIsoWeekDay("created_at", tzinfo=tz))
        .values("weekday")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("weekday", "n")
    )
    weekdays = Chart(
        str(_("Load by weekday")),
        "bar",
        [str(day) for day in WEEKDAYS],
        [(str(_("Conversations")), [per_weekday.get(d, 0) for d in range(1, 8)])],
    )
    return {
        "conversations": conversations,
        "agents": agents,
        "first_answer": first_answer,
        "kpi_breach": kpi_breach,
        "client_votes": client_votes,
        "head_votes": head_votes,
        "hours": hours,
        "weekdays": weekdays,
    }


def chart_csv(chart: Chart) -> str:
    from kpi.services.exports import csv_safe

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["", *[label for label, _values in chart.datasets]])
    for index, label in enumerate(chart.labels):
        writer.writerow([csv_safe(label), *[values[index] for _label, values in chart.datasets]])
    return buffer.getvalue()
