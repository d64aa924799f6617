"""Routing benchmark: one routing decision on a line with 1,000 agents and 20,000 open conversations.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_bench python bench/routing.py [--runs 300] [--profile]

The database must be migrated and its name must contain "bench": the script wipes the engine's tables and
builds a line whose queue holds 1,000 agents (all online, availability checked) with 20,000 open
conversations spread evenly over them (20 each; `max_chat` 50 so that everyone stays eligible and every
decision reads the loads). Then, for "evenly" and "strictly":

- ingest: a new client's first message through `message_ingest` (store, start the session, welcome text,
  route, announce) — what a webhook costs;
- decision: the routing decision alone for one waiting session: under the line lock, the waiting list,
  the queue, the last assignments ("evenly"), the availability and the loads of the agents the strategy
  reaches, until it names the agent (rolled back, nothing assigned);
- distribute: `line_distribute` for one waiting session: the decision, then the assignment and what
  follows it in the same transaction (offer, deadline, KPI clock, CRM activity, realtime events, the
  re-check of the chosen agent's limits under their lock, commit, push).

Prints p50/p99 in milliseconds and the number of SQL queries, and writes the table into
docs/performance.md. `--profile [ingest|distribute]` prints a cProfile of those runs instead;
`--statements` prints the SQL of one `line_distribute` per mode (after the commit too: the realtime
audience queries) instead.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import time
from datetime import timedelta

from _common import django_setup, percentile, require_bench_database, table, wipe_engine_data, write_section

django_setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, reset_queries, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from contactcenter.models import Connector, EmployeeProfile, Presence  # noqa: E402
from openlines.models import OpenLine, QueueMember  # noqa: E402
from openlines.services.ingest import InboundClient, InboundMessage, message_ingest  # noqa: E402
from openlines.services.routing import STRATEGIES, Eligibility, line_distribute, line_lock  # noqa: E402
from openlines.session_models import Chat, Client, LineAgentState, Session, SessionStatus  # noqa: E402

AGENTS = 1000
SESSIONS = 20000
BATCH = 2000


def build() -> tuple[OpenLine, Connector]:
    wipe_engine_data()
    now = timezone.now()
    User = get_user_model()
    users = User.objects.bulk_create(
        [User(username=f"bench-agent-{i}", first_name=f"Agent {i}", password="!") for i in range(AGENTS)],
        batch_size=BATCH,
    )
    EmployeeProfile.objects.bulk_create([EmployeeProfile(user=u) for u in users], batch_size=BATCH)
    Presence.objects.bulk_create(
        [Presence(user=u, connections=1, last_seen=now) for u in users], batch_size=BATCH
    )
    line = OpenLine.objects.create(
        line_name="Bench",
        language_id="en",
        queue_type=OpenLine.QueueType.EVENLY,
        max_chat=50,
        check_available=True,
    )
    QueueMember.objects.bulk_create([QueueMember(line=line, user=u, sort=i) for i, u in enumerate(users)])
    LineAgentState.objects.bulk_create(
        [
            LineAgentState(line=line, user=u, last_assigned_at=now - timedelta(seconds=i))
            for i, u in enumerate(users)
        ]
    )
    connector = Connector.objects.create(kind="rest", line=line, name="Bench")
    clients = Client.objects.bulk_create(
        [
            Client(connector=connector, external_id=f"bench-client-{i}", name=f"Client {i}")
            for i in range(SESSIONS)
        ],
        batch_size=BATCH,
    )
    chats = Chat.objects.bulk_create(
        [Chat(line=line, client=c, external_chat_id=c.external_id) for c in clients], batch_size=BATCH
    )
    statuses = [
        SessionStatus.ANSWER,
        SessionStatus.CLIENT,
        SessionStatus.OPERATOR,
        SessionStatus.CLIENT_AFTER_OPERATOR,
    ]
    Session.objects.bulk_create(
        [
            Session(
                line=line,
                chat=chat,
                source="rest",
                status=statuses[i % 4],
                operator=users[i % AGENTS],
                wait_answer=False,
                created_at=now - timedelta(minutes=i % 600),
                date_operator=now,
            )
            for i, chat in enumerate(chats)
        ],
        batch_size=BATCH,
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
    return line, connector


def measure(label: str, runs: int, setup, action) -> tuple[list[float], int]:
    times = []
    queries = 0
    for i in range(runs):
        setup(i)
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            action(i)
            times.append((time.perf_counter() - start) * 1000)
        queries = len(captured.captured_queries)
        reset_queries()
    print(
        f"{label:<32} p50 {percentile(times, 50):7.2f} ms   p99 {percentile(times, 99):7.2f} ms   "
        f"{queries} queries"
    )
    return times, queries


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument(
        "--profile",
        nargs="?",
        const="ingest",
        choices=["ingest", "distribute", "decision"],
        help="profile the ingest (default), line_distribute or decision runs (cProfile) instead of measuring",
    )
    parser.add_argument("--no-write", action="store_true", help="do not update docs/performance.md")
    parser.add_argument(
        "--statements", action="store_true", help="print the SQL of one line_distribute per mode"
    )
    args = parser.parse_args()
    require_bench_database()
    started = time.perf_counter()
    line, connector = build()
    print(f"built {AGENTS} agents, {SESSIONS} open sessions in {time.perf_counter() - started:.1f} s")
    random.seed(1)
    counter = iter(range(10**9))

    def ingest(_i: int) -> None:
        n = next(counter)
        message_ingest(
            connector=connector,
            client=InboundClient(external_id=f"bench-new-{n}", name=f"New {n}"),
            message=InboundMessage(external_id=f"bench-new-{n}-1", text="Hello, I need help"),
        )

    waiting: list[int] = []

    def make_waiting(_i: int) -> None:
        n = next(counter)
        client = Client.objects.create(connector=connector, external_id=f"bench-wait-{n}")
        chat = Chat.objects.create(line=line, client=client, external_chat_id=client.external_id)
        waiting.append(Session.objects.create(line=line, chat=chat, source="rest", undistributed=True).pk)

    def distribute(_i: int) -> None:
        assert line_distribute(line.pk) == 1

    def make_one_waiting(i: int) -> None:
        # The previous decision's session leaves the queue, so each decision sees one waiting session.
        Session.objects.filter(pk__in=waiting).update(closed=True, undistributed=False)
        make_waiting(i)

    def decide(_i: int) -> None:
        # What line_distribute does up to the choice (routing.line_distribute, route_choice), then undone.
        with transaction.atomic():
            locked = line_lock(line.pk)
            session = (
                Session.objects.filter(line=locked, closed=False, undistributed=True)
                .order_by("id")
                .select_related("chat__client")
                .first()
            )
            assert session is not None
            session.line = locked
            eligibility = Eligibility(locked, now=timezone.now())
            choice = STRATEGIES[locked.queue_type].choose(locked, session, eligibility, set())
            assert len(choice.user_ids) == 1
            transaction.set_rollback(True)

    if args.profile:
        profiler = cProfile.Profile()
        for i in range(args.runs):
            setup, action = {
                "ingest": (lambda i: None, ingest),
                "distribute": (make_waiting, distribute),
                "decision": (make_one_waiting, decide),
            }[args.profile]
            setup(i)
            profiler.enable()
            action(i)
            profiler.disable()
        order = os.environ.get("PROFILE_SORT", "cumulative")
        pstats.Stats(profiler).sort_stats(order).print_stats(int(os.environ.get("PROFILE_LINES", "40")))
        return

    if args.statements:
        for queue_type in (OpenLine.QueueType.EVENLY, OpenLine.QueueType.STRICTLY):
            OpenLine.objects.filter(pk=line.pk).update(queue_type=queue_type)
            for i in range(3):  # the last one is printed: the first decisions warm the caches
                make_waiting(i)
                with CaptureQueriesContext(connection) as captured:
                    distribute(i)
            print(f"--- {queue_type}: line_distribute, {len(captured.captured_queries)} statements")
            for n, query in enumerate(captured.captured_queries, start=1):
                print(f"{n:3}. [{float(query['time']) * 1000:5.2f} ms] {query['sql'][:400]}")
        return

    rows = []
    for queue_type in (OpenLine.QueueType.EVENLY, OpenLine.QueueType.STRICTLY):
        OpenLine.objects.filter(pk=line.pk).update(queue_type=queue_type)
        for label, setup, action in (
            ("message_ingest (new client)", lambda i: None, ingest),
            ("line_distribute (one waiting)", make_waiting, distribute),
            ("routing decision (one waiting)", make_one_waiting, decide),
        ):
            times, queries = measure(f"{queue_type}: {label}", args.runs, setup, action)
            rows.append(
                [
                    queue_type,
                    label,
                    str(args.runs),
                    f"{percentile(times, 50):.1f}",
                    f"{percentile(times, 99):.1f}",
                    f"{max(times):.1f}",
                    str(queries),
                ]
            )
    markdown = table(["mode", "operation", "runs", "p50 ms", "p99 ms", "max ms", "SQL queries"], rows)
    markdown = (
        f"{AGENTS} agents in the queue (all online, `check_available` on), {SESSIONS} open conversations "
        f"(20 per agent), `max_chat` 50. "
        f"Command: `DATABASE_URL=... python bench/routing.py --runs {args.runs}`.\n\n" + markdown
    )
    print()
    print(markdown)
    if not args.no_write:
        write_section("routing", markdown)


if __name__ == "__main__":
    main()
