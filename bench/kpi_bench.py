"""KPI / chat list / reports benchmark on PostgreSQL (docs/performance.md records the runs).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_kpibench \\
        /work/main/.venv/bin/python bench/kpi_bench.py --sessions 1000000 --messages-per-session 10

Generates the data with COPY (progress on stderr), then measures:
  1. the chat list's first page (view + template) for common filters and sorts: p50 / p95;
  2. a monthly report per line and per agent (every chart): p50 / p95;
  3. KPI notification lateness with `--clocks` clocks running, the timer loop ticking as in `serve`.
Use `--skip-generate` to measure again on data already loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import F  # noqa: E402
from django.test import RequestFactory  # noqa: E402
from django.utils import timezone  # noqa: E402

from contactcenter.models import Connector, EmployeeProfile  # noqa: E402
from contactcenter.timers import run_due_timers  # noqa: E402
from kpi.models import KpiClock, SessionKpi  # noqa: E402
from kpi.reports import ReportForm, report_build  # noqa: E402
from kpi.views import chat_list  # noqa: E402
from openlines.models import OpenLine  # noqa: E402
from openlines.session_models import Chat, Client, Message, Session  # noqa: E402
from tests.access_helpers import grant  # noqa: E402

User = get_user_model()
NOW = datetime(2026, 11, 1, tzinfo=UTC)
LINES = 10
AGENTS = 50


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _defaults(model) -> tuple[list[str], dict]:
    fields = [f for f in model._meta.concrete_fields]
    columns = [f.column for f in fields]
    defaults = {}
    for f in fields:
        value = f.get_default()
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        defaults[f.column] = value
    return columns, defaults


def copy(model, rows, total: int, label: str) -> None:
    """COPY rows (dicts by column name, defaults filled in) into the model's table."""
    columns, defaults = _defaults(model)
    table = model._meta.db_table
    started = time.monotonic()
    raw = connection.connection
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as out:
            for n, row in enumerate(rows, 1):
                values = defaults | row
                out.write_row([values[c] for c in columns])
                if n % 500_000 == 0:
                    log(f"  {label}: {n:,}/{total:,} ({n / (time.monotonic() - started):,.0f} rows/s)")
    raw.commit()
    log(f"  {label}: {total:,} rows in {time.monotonic() - started:.0f}s")


def reset_sequence(model) -> None:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
        )


def generate(n_sessions: int, per_session: int, n_running: int) -> None:
    rnd = random.Random(7)
    log("migrating")
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE openlines_message, kpi_kpiclock, kpi_sessionkpi, openlines_session, openlines_chat, "
            "openlines_client CASCADE"
        )
    supervisor, _ = User.objects.get_or_create(username="bench-supervisor", defaults={"is_staff": True})
    agents = []
    for i in range(AGENTS):
        user, _ = User.objects.get_or_create(username=f"bench-agent-{i}", defaults={"is_staff": True})
        EmployeeProfile.objects.get_or_create(user=user)
        agents.append(user.pk)
    lines = []
    for i in range(LINES):
        line, _ = OpenLine.objects.get_or_create(
            line_name=f"Bench line {i}",
            defaults={
                "kpi_first_answer_time": 60,
                "kpi_first_answer_alert": True,
                "kpi_further_answer_time": 300,
                "kpi_further_answer_alert": True,
            },
        )
        line.kpi_first_answer_list.set([supervisor])
        line.kpi_further_answer_list.set([supervisor])
        connector, _ = Connector.objects.get_or_create(
            line=line, kind="telegram", defaults={"name": f"TG {i}"}
        )
        lines.append((line.pk, connector.pk))
    year = 365 * 24 * 3600
    created = [NOW - timedelta(seconds=rnd.randrange(year)) for _ in range(n_sessions)]
    created.sort()
    line_of = [rnd.randrange(LINES) for _ in range(n_sessions)]
    running_from = n_sessions - n_running  # the newest sessions are open and waiting

    log(f"generating {n_sessions:,} sessions, {n_sessions * per_session:,} messages")
    copy(
        Client,
        (
            {
                "id": i + 1,
                "connector_id": lines[line_of[i]][1],
                "external_id": f"u{i}",
                "name": f"Client {i}",
                "created_at": created[i],
            }
            for i in range(n_sessions)
        ),
        n_sessions,
        "clients",
    )
    copy(
        Chat,
        (
            {
                "id": i + 1,
                "line_id": lines[line_of[i]][0],
                "client_id": i + 1,
                "external_chat_id": f"u{i}",
                "created_at": created[i],
            }
            for i in range(n_sessions)
        ),
        n_sessions,
        "chats",
    )

    def session_rows():
        for i in range(n_sessions):
            open_ = i >= running_from
            first = rnd.randrange(5, 900)
            dialog = first + rnd.randrange(60, 7200)
            yield {
                "id": i + 1,
                "line_id": lines[line_of[i]][0],
                "chat_id": i + 1,
                "source": "telegram",
                "mode": "input" if rnd.random() < 0.9 else "output",
                "status": rnd.choice([20, 25, 40]) if open_ else (65 if rnd.random() < 0.02 else 60),
                "operator_id": rnd.choice(agents),
                "wait_answer": False,
                "closed": not open_,
                "spam": False,
                "worktime": rnd.random() < 0.8,
                "created_at": created[i],
                "modified_at": created[i],
                "date_operator": created[i],
                "date_operator_answer": created[i] + timedelta(seconds=first // 2),
                "date_first_answer": created[i] + timedelta(seconds=first),
                "date_last_message": created[i] + timedelta(seconds=dialog),
                "date_close": None if open_ else created[i] + timedelta(seconds=dialog),
                "time_first_answer": first,
                "time_answer": first // 2,
                "time_dialog": None if open_ else dialog,
                "message_count": per_session,
                "vote": rnd.choice([0, 0, 0, 5, 5, 1]),
                "vote_head": rnd.choice([0, 0, 0, 0, 1, 2, 3, 4, 5]),
                "is_first": True,
            }

    copy(Session, session_rows(), n_sessions, "sessions")

    def message_rows():
        n = 0
        for i in range(n_sessions):
            for k in range(per_session):
                n += 1
                yield {
                    "id": n,
                    "chat_id": i + 1,
                    "session_id": i + 1,
                    "author_type": "client" if k % 2 == 0 else "agent",
                    "text": f"message {k} of conversation {i}",
                    "created_at": created[i] + timedelta(seconds=30 * k),
                }

    copy(Message, message_rows(), n_sessions * per_session, "messages")

    def kpi_rows():
        for i in range(n_sessions):
            first = rnd.randrange(5, 900)
            yield {
                "session_id": i + 1,
                "first_response": first,
                "total_response": first * 3,
                "response_count": 3,
                "average_response": first,
                "max_response": first * 2,
                "breaches": int(first > 60),
            }

    copy(SessionKpi, kpi_rows(), n_sessions, "session KPIs")

    def clock_rows():
        for i in range(running_from):
            start = created[i]
            answer = rnd.randrange(5, 900)
            yield {
                "id": i + 1,
                "session_id": i + 1,
                "kind": "first",
                "received_at": start,
                "started_at": start,
                "limit_seconds": 60,
                "due_at": start + timedelta(seconds=60),
                "answered_at": start + timedelta(seconds=answer),
                "overdue_at": start + timedelta(seconds=60) if answer > 60 else None,
                "response_seconds": answer,
            }

    copy(KpiClock, clock_rows(), running_from, "answered KPI clocks")
    for model in (Client, Chat, Session, Message, KpiClock):
        reset_sequence(model)
    log("ANALYZE")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm up
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), pct(samples, 95)


def measure_list(repeat: int) -> list[tuple[str, float, float]]:
    root, _ = User.objects.get_or_create(
        username="bench-root", defaults={"is_superuser": True, "is_staff": True}
    )
    own, created = User.objects.get_or_create(username="bench-own", defaults={"is_staff": True})
    if created:
        grant(own, statistics_view="own")
    agent = User.objects.get(username="bench-agent-3")
    own_as_agent = User.objects.get(pk=agent.pk)
    if not own_as_agent.role_assignments.exists():
        grant(own_as_agent, statistics_view="own")
    line = OpenLine.objects.order_by("pk").first()
    week_ago = (NOW - timedelta(days=7)).date().isoformat()
    scenarios = [
        ("default (ID desc)", root, ""),
        ("line filter", root, f"line={line.pk}"),
        ("agent filter", root, f"operator={agent.pk}"),
        ("created last 7 days", root, f"created_from={week_ago}"),
        ("status: waiting for agent", root, "status_group=waiting_agent"),
        ("closed + client like", root, "status_group=closed&vote=5"),
        ("supervisor not rated", root, "vote_head=0"),
        ("sort by created desc", root, "sort=-date_create"),
        ("sort by messages", root, "sort=-message_count"),
        ("sort by initial response", root, "sort=-kpi_first"),
        ("line + sort by first answer", root, f"line={line.pk}&sort=-time_first_answer"),
        ("own level (agent)", own_as_agent, ""),
        ("client name contains", root, "client=Client 12345"),
        ("late + disliked, last 7 days", root, f"late=Y&vote=1&created_from={week_ago}"),
    ]
    factory = RequestFactory()
    results = []
    for label, user, query in scenarios:

        def run(user=user, query=query):
            request = factory.get(f"/chats/?{query}")
            request.user = User.objects.get(pk=user.pk)  # a fresh user per request, as in production
            response = chat_list(request)
            assert response.status_code == 200, response.status_code

        p50, p95 = timed(run, repeat)
        results.append((label, p50, p95))
        log(f"  list {label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
    return results


def measure_reports(repeat: int) -> list[tuple[str, float, float]]:
    root, _ = User.objects.get_or_create(
        username="bench-root", defaults={"is_superuser": True, "is_staff": True}
    )
    line = OpenLine.objects.order_by("pk").first()
    agent = User.objects.get(username="bench-agent-3")
    month = {"date_from": "2026-10-01", "date_to": "2026-10-31"}
    results = []
    for label, extra in (
        ("month, one line", {"line": [line.pk]}),
        ("month, one agent", {"operator": [agent.pk]}),
        ("month, all lines", {}),
    ):
        params = ReportForm({**month, **extra}).params()

        def run(params=params):
            report_build(user=root, params=params)

        p50, p95 = timed(run, repeat)
        results.append((label, p50, p95))
        log(f"  report {label}: p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    return results


def measure_lateness(n_clocks: int, spread: float, window: float) -> dict:
    """`n_clocks` running clocks due over `spread` seconds from now; tick for `window` seconds."""
    KpiClock.objects.filter(answered_at__isnull=True).delete()
    open_ids = list(
        Session.objects.filter(closed=False).order_by("-id").values_list("id", flat=True)[:n_clocks]
    )
    if len(open_ids) < n_clocks:
        log(f"  only {len(open_ids):,} open sessions: running {len(open_ids):,} clocks")
    now = timezone.now()
    rnd = random.Random(3)
    KpiClock.objects.bulk_create(
        [
            KpiClock(
                session_id=sid,
                kind="first",
                received_at=now,
                started_at=now,
                limit_seconds=60,
                due_at=now + timedelta(seconds=rnd.uniform(1, spread)),
            )
            for sid in open_ids
        ],
        batch_size=5000,
    )
    # Creating the clocks takes a while: shift the deadlines so that none fell due before the loop starts.
    KpiClock.objects.filter(answered_at__isnull=True).update(due_at=F("due_at") + (timezone.now() - now))
    interval = settings.TIMERS_INTERVAL_SECONDS
    log(f"  {len(open_ids):,} clocks running; ticking every {interval}s for {window:.0f}s")
    tick_end: dict[datetime, datetime] = {}
    ticks: list[tuple[float, int, float]] = []  # (seconds into the run, clocks applied, tick duration)
    started = time.monotonic()
    stop = started + window
    while time.monotonic() < stop:
        tick_now = timezone.now()
        t0 = time.monotonic()
        applied = run_due_timers(tick_now)
        tick_end[tick_now] = timezone.now()
        ticks.append((t0 - started, applied, time.monotonic() - t0))
        time.sleep(settings.TIMERS_INTERVAL_SECONDS)
    slowest = sorted(ticks, key=lambda tick: -tick[2])[:5]
    log(
        "  slowest ticks (at s, clocks, duration s): "
        + ", ".join(f"({a:.0f}, {n}, {d:.2f})" for a, n, d in slowest)
    )
    log(f"  ticks: {len(ticks)}, median duration {statistics.median(t[2] for t in ticks):.3f}s")
    claimed = list(
        KpiClock.objects.filter(overdue_at__isnull=False, answered_at__isnull=True).values_list(
            "due_at", "overdue_at"
        )
    )
    lateness = [(tick_end[overdue] - due).total_seconds() for due, overdue in claimed if overdue in tick_end]
    due_in_window = KpiClock.objects.filter(answered_at__isnull=True, due_at__lte=max(tick_end)).count()
    result = {
        "clocks": len(open_ids),
        "due_in_window": due_in_window,
        "notified": len(lateness),
        "p50": pct(lateness, 50) if lateness else None,
        "p99": pct(lateness, 99) if lateness else None,
        "max": max(lateness) if lateness else None,
    }
    log(f"  lateness: {result}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--messages-per-session", type=int, default=10)
    parser.add_argument("--clocks", type=int, default=100_000)
    parser.add_argument("--clock-spread", type=float, default=3600.0)
    parser.add_argument("--window", type=float, default=120.0)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--skip-generate", action="store_true")
    parser.add_argument("--only", default="list,reports,lateness", help="comma-separated parts to measure")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("run on PostgreSQL: set DATABASE_URL")
    if not args.skip_generate:
        generate(args.sessions, args.messages_per_session, args.clocks)
    parts = set(args.only.split(","))
    call_command("migrate", verbosity=0)
    list_results, report_results, lateness = [], [], {}
    if "list" in parts:
        log("chat list")
        list_results = measure_list(args.repeat)
    if "reports" in parts:
        log("reports")
        report_results = measure_reports(max(args.repeat // 3, 5))
    if "lateness" in parts:
        log("KPI lateness")
        lateness = measure_lateness(args.clocks, args.clock_spread, args.window)
    print("\n| chat list scenario | p50 ms | p95 ms |\n|---|---:|---:|")
    for label, p50, p95 in list_results:
        print(f"| {label} | {p50:.1f} | {p95:.1f} |")
    print("\n| report | p50 ms | p95 ms |\n|---|---:|---:|")
    for label, p50, p95 in report_results:
        print(f"| {label} | {p50:.0f} | {p95:.0f} |")
    print(f"\nKPI lateness: {json.dumps(lateness, default=str)}")


if __name__ == "__main__":
    main()
