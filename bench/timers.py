"""Timer benchmark: 100,000 open conversations whose deadlines fall due over ~20 seconds.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_bench python bench/timers.py \
        [--sessions 100000] [--spread 20] [--processes 2] [--max-seconds 600]

The database must be migrated and its name must contain "bench" (its engine tables are wiped). The script
creates the conversations on 10 lines (20 agents each) with one deadline each, due between 10 s and
10 + spread s after the build, in a realistic mix:

- 40 % auto-close: the agent replied (STATUS 40), the client is silent; the close deadline finishes the
  conversation (rating request, closing phase, a new close deadline an hour later);
- 20 % full close: conversations in their closing phase (STATUS 50) close for good;
- 30 % no-answer: unanswered enquiries get the no-answer text once;
- 10 % forward: an offer nobody accepted goes to the next agent (routing, under the line lock).

Then it starts `--processes` timer processes, each running the real loop (`contactcenter.timers.timers_loop`,
what `manage.py runtimers` runs), and records when each deadline's transaction committed. Reported:
lateness (commit time - due time) p50/p99/max, transitions per second, and whether any deadline was
applied twice (it must not be: a deadline row is claimed by deleting it in the applying transaction).
Stops after `--max-seconds` if the backlog is not drained, and says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import django_setup, percentile, require_bench_database, table, wipe_engine_data, write_section

django_setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import F  # noqa: E402
from django.utils import timezone  # noqa: E402

from contactcenter.models import Connector, EmployeeProfile, Presence  # noqa: E402
from openlines.models import OpenLine, QueueMember  # noqa: E402
from openlines.session_models import (  # noqa: E402
    Chat,
    Client,
    DeadlineKind,
    Session,
    SessionDeadline,
    SessionOffer,
    SessionStatus,
)

LINES = 10
AGENTS_PER_LINE = 20
BATCH = 5000
START_DELAY = 10.0
MIX = [("auto_close", 40), ("full_close", 20), ("no_answer", 30), ("forward", 10)]


def build(sessions: int, spread: float) -> dict[int, tuple[str, float]]:
    """Returns {session id: (case, due epoch seconds)}."""
    wipe_engine_data()
    now = timezone.now()
    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"timer-agent-{i}", password="!") for i in range(LINES * AGENTS_PER_LINE)]
    )
    EmployeeProfile.objects.bulk_create([EmployeeProfile(user=u) for u in users])
    Presence.objects.bulk_create([Presence(user=u, connections=1, last_seen=now) for u in users])
    lines, connectors = [], []
    for index in range(LINES):
        line = OpenLine.objects.create(
            line_name=f"Timers {index}",
            language_id="en",
            queue_type=OpenLine.QueueType.EVENLY,
            # Re-armed deadlines (next forward, final close) fall due after the run: one application each.
            no_answer_rule=OpenLine.Rule.TEXT,
            queue_time=3600,
            full_close_time=60,
        )
        members = users[index * AGENTS_PER_LINE : (index + 1) * AGENTS_PER_LINE]
        QueueMember.objects.bulk_create(
            [QueueMember(line=line, user=u, sort=i) for i, u in enumerate(members)]
        )
        lines.append((line, members))
        connectors.append(Connector.objects.create(kind="rest", line=line, name=f"Timers {index}"))

    rng = random.Random(1)
    cases = [case for case, weight in MIX for _ in range(weight)]
    # Deadlines are written relative to a far past moment and shifted once everything is built, so that
    # they fall due from START_DELAY seconds after the build however long it took.
    base = datetime(2000, 1, 1, tzinfo=UTC)
    delays: dict[int, tuple[str, float]] = {}
    for offset in range(0, sessions, BATCH):
        count = min(BATCH, sessions - offset)
        picks = [(rng.randrange(LINES), rng.choice(cases), rng.uniform(0, spread)) for _ in range(count)]
        clients = Client.objects.bulk_create(
            [
                Client(connector=connectors[li], external_id=f"t{offset + i}")
                for i, (li, _c, _d) in enumerate(picks)
            ]
        )
        chats = Chat.objects.bulk_create(
            [
                Chat(line=lines[li][0], client=cl, external_chat_id=cl.external_id)
                for cl, (li, _c, _d) in zip(clients, picks, strict=True)
            ]
        )
        rows = []
        for i, (chat, (li, case, _delay)) in enumerate(zip(chats, picks, strict=True)):
            line, members = lines[li]
            agent = members[(offset + i) % AGENTS_PER_LINE]
            fields: dict = {"operator": agent, "date_operator": now, "created_at": now - timedelta(hours=1)}
            if case == "auto_close":
                fields.update(status=SessionStatus.OPERATOR, wait_answer=False, date_first_answer=now)
            elif case == "full_close":
                fields.update(
                    status=SessionStatus.WAIT_CLIENT,
                    wait_answer=False,
                    wait_action=True,
                    wait_vote=True,
                    date_first_answer=now,
                )
            else:
                fields.update(status=SessionStatus.NEW, wait_answer=True, queue_history=[agent.pk])
            rows.append(Session(line=line, chat=chat, source="rest", **fields))
        created = Session.objects.bulk_create(rows)
        kinds = {
            "auto_close": DeadlineKind.CLOSE,
            "full_close": DeadlineKind.CLOSE,
            "no_answer": DeadlineKind.NO_ANSWER,
            "forward": DeadlineKind.QUEUE,
        }
        SessionDeadline.objects.bulk_create(
            [
                SessionDeadline(session=s, kind=kinds[case], due_at=base + timedelta(seconds=delay))
                for s, (_li, case, delay) in zip(created, picks, strict=True)
            ]
        )
        SessionOffer.objects.bulk_create(
            [
                SessionOffer(session=s, user_id=s.operator_id)
                for s, (_li, case, _d) in zip(created, picks, strict=True)
                if case == "forward"
            ]
        )
        for s, (_li, case, delay) in zip(created, picks, strict=True):
            delays[s.pk] = (case, delay)
        print(f"  built {offset + count} sessions", end="\r", flush=True)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    print()
    start = timezone.now() + timedelta(seconds=START_DELAY)
    SessionDeadline.objects.update(due_at=F("due_at") + (start - base))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE openlines_sessiondeadline")
    return {pk: (case, start.timestamp() + delay) for pk, (case, delay) in delays.items()}


def worker(log_path: str, until: float, last_due: float) -> None:
    """One timer process: the real loop, with each applied deadline's commit time recorded."""
    from contactcenter.timers import timers_loop
    from openlines import timers as session_timers

    applied: list[tuple[int, str, float]] = []
    original = session_timers.deadline_apply

    def recorded(session, kind, now) -> None:  # type: ignore[no-untyped-def]
        original(session, kind, now)
        transaction.on_commit(lambda: applied.append((session.pk, str(kind), time.time())))

    session_timers.deadline_apply = recorded

    async def main() -> None:
        stop = asyncio.Event()
        loop_task = asyncio.create_task(timers_loop(stop))
        while time.time() < until:
            await asyncio.sleep(1)
            if time.time() > last_due and not await asyncio.to_thread(_backlog, last_due):
                break
        stop.set()
        await loop_task

    asyncio.run(main())
    Path(log_path).write_text(json.dumps(applied))


def _backlog(last_due: float) -> int:
    try:
        return SessionDeadline.objects.filter(due_at__lte=datetime.fromtimestamp(last_due, UTC)).count()
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=100_000)
    parser.add_argument(
        "--spread", type=float, default=20.0, help="seconds over which the deadlines fall due"
    )
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--max-seconds", type=float, default=600.0, help="stop the timer processes after this"
    )
    parser.add_argument(
        "--window",
        type=float,
        default=0.0,
        help="measure only the deadlines due in the first WINDOW seconds (0 = all): with a long --spread, "
        "the steady state of many open conversations whose deadlines keep falling due",
    )
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--worker", nargs=3, metavar=("LOG", "UNTIL", "LAST_DUE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], float(args.worker[1]), float(args.worker[2]))
        return
    require_bench_database()
    started = time.time()
    plan = build(args.sessions, args.spread)
    print(f"built {len(plan)} conversations with deadlines in {time.time() - started:.0f} s")
    first_due = min(due for _case, due in plan.values())
    if args.window:
        # Deadlines after the window stay pending (as in a live system); only those due in it are judged.
        plan = {pk: (case, due) for pk, (case, due) in plan.items() if due <= first_due + args.window}
    last_due = max(due for _case, due in plan.values())
    if time.time() > first_due:
        sys.exit("building took longer than the start delay; lower --sessions")
    until = time.time() + args.max_seconds
    logs = [
        tempfile.NamedTemporaryFile(prefix="timers-", suffix=".json", delete=False).name
        for _ in range(args.processes)
    ]
    env = {**os.environ, "TIMERS_INTERVAL_SECONDS": os.environ.get("TIMERS_INTERVAL_SECONDS", "0.5")}
    workers = [
        subprocess.Popen([sys.executable, __file__, "--worker", log, str(until), str(last_due)], env=env)
        for log in logs
    ]
    for process in workers:
        process.wait()
    records: list[tuple[int, str, float]] = []
    per_process = []
    for log in logs:
        rows = json.loads(Path(log).read_text())
        per_process.append(len(rows))
        records += rows
        os.unlink(log)

    applied = Counter(session_id for session_id, _kind, _at in records)
    twice = sum(1 for n in applied.values() if n > 1)
    records = [record for record in records if record[0] in plan]
    lateness = [at - plan[session_id][1] for session_id, _kind, at in records]
    missing = len(plan) - len({session_id for session_id, _kind, _at in records})
    by_case: dict[str, list[float]] = {}
    for session_id, _kind, at in records:
        case, due = plan[session_id]
        by_case.setdefault(case, []).append(at - due)
    first_commit = min(at for _s, _k, at in records)
    last_commit = max(at for _s, _k, at in records)
    rate = len(records) / max(last_commit - first_commit, 1e-9)

    rows = [
        [
            "all",
            str(len(lateness)),
            f"{percentile(lateness, 50):.2f}",
            f"{percentile(lateness, 99):.2f}",
            f"{max(lateness):.2f}",
        ]
    ]
    for case, _weight in MIX:
        values = by_case.get(case, [])
        if values:
            rows.append(
                [
                    case,
                    str(len(values)),
                    f"{percentile(values, 50):.2f}",
                    f"{percentile(values, 99):.2f}",
                    f"{max(values):.2f}",
                ]
            )
    markdown = (
        f"{args.sessions} conversations, deadlines due over {args.spread:.0f} s"
        + (f", the {len(plan)} due in the first {args.window:g} s measured, " if args.window else ", ")
        + f"{args.processes} timer processes "
        f"(`timers_loop`, interval {env['TIMERS_INTERVAL_SECONDS']} s). "
        f"Command: `DATABASE_URL=... python bench/timers.py "
        f"--sessions {args.sessions} --spread {args.spread:g} --processes {args.processes}"
        + (f" --window {args.window:g}" if args.window else "")
        + "`.\n\n"
        + table(["deadlines", "applied", "lateness p50 s", "p99 s", "max s"], rows)
        + f"\n\n- transitions per second (first to last commit): **{rate:.0f}**"
        + f"\n- applied per process: {', '.join(str(n) for n in per_process)}"
        + f"\n- applied twice: **{twice}**; not applied when the run stopped: **{missing}**"
    )
    print()
    print(markdown)
    if not args.no_write:
        write_section("timers", markdown)


if __name__ == "__main__":
    main()
