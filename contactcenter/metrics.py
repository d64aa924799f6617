"""`GET /metrics`: Prometheus text format, for a scraper that sends `Authorization: Bearer METRICS_TOKEN`.

Every figure is read from the database (or the task broker) at scrape time, so any web process answers
for the whole deployment; none needs per-process state. Off (404) while METRICS_TOKEN is not set.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Min, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from contactcenter.models import OutboundDelivery, Presence
from openlines.session_models import Message, Session, SessionDeadline

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, object], float]]) -> str:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        text = ",".join(f'{key}="{_label(item)}"' for key, item in labels.items())
        lines.append(f"{name}{{{text}}} {value}" if text else f"{name} {value}")
    return "\n".join(lines)


def _seconds_since(moment: datetime | None, now: datetime) -> float:
    return max((now - moment).total_seconds(), 0.0) if moment is not None else 0.0


def metrics_text(*, now: datetime | None = None) -> str:
    """The current figures in Prometheus' text exposition format."""
    from django_q.brokers import get_broker

    now = now or timezone.now()
    directions = {"client": "in", "agent": "out", "bot": "out"}
    messages = (
        Message.objects.filter(author_type__in=list(directions), internal=False)
        .values("connector__kind", "author_type")
        .annotate(n=Count("id"))
    )
    by_channel: dict[tuple[str, str], int] = {}
    for row in messages:
        key = (row["connector__kind"] or "none", directions[row["author_type"]])
        by_channel[key] = by_channel.get(key, 0) + row["n"]
    deliveries = dict(
        OutboundDelivery.objects.filter(
            status__in=[OutboundDelivery.Status.PENDING, OutboundDelivery.Status.FAILED]
        )
        .values_list("status")
        .annotate(n=Count("id"))
    )
    waiting = (
        Session.objects.filter(closed=False, undistributed=True)
        .values("line__code")
        .annotate(n=Count("id"), oldest=Min("created_at"))
    )
    late = SessionDeadline.objects.filter(due_at__lte=now).aggregate(oldest=Min("due_at"))["oldest"]
    sockets = Presence.objects.aggregate(n=Sum("connections"))["n"] or 0
    queued = get_broker().queue_size() or 0
    families = [
        _family(
            "cc_messages_total",
            "counter",
            "Messages in (from clients) and out (agents, bots) per channel kind.",
            (({"channel": c, "direction": d}, n) for (c, d), n in sorted(by_channel.items())),
        ),
        _family(
            "cc_deliveries",
            "gauge",
            "Outbound deliveries to messengers still being sent or given up.",
            (({"status": s}, deliveries.get(s, 0)) for s in ("pending", "failed")),
        ),
        _family(
            "cc_enquiries_waiting",
            "gauge",
            "Open conversations on a line's waiting list (no free agent).",
            (({"line": row["line__code"]}, row["n"]) for row in waiting),
        ),
        _family(
            "cc_enquiry_longest_wait_seconds",
            "gauge",
            "Age of the oldest conversation on a line's waiting list.",
            (({"line": row["line__code"]}, _seconds_since(row["oldest"], now)) for row in waiting),
        ),
        _family(
            "cc_timer_lateness_seconds",
            "gauge",
            "How long the oldest due deadline has waited for the timer loop (0: none due).",
            [({}, _seconds_since(late, now))],
        ),
        _family(
            "cc_staff_websocket_connections",
            "gauge",
            "Open staff websocket connections (agent workspaces).",
            [({}, sockets)],
        ),
        _family("cc_task_queue_depth", "gauge", "Background tasks waiting.", [({}, queued)]),
    ]
    return "\n".join(families) + "\n"


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        response = HttpResponse("", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE)
