"""Ingest through the REST connector: messages per second and acknowledgement time, over real HTTP.

Prepares its own database (a fresh PostgreSQL database named by --database, or a fresh SQLite folder),
creates a line with agents and a REST connector, starts `manage.py serve` on a free port, then POSTs
`--messages` client messages from `--clients` clients with `--concurrency` requests in flight and reports
p50 / p95 / p99 / max acknowledgement time and throughput. Each message is a new or continuing
conversation, so routing and the start-of-session automations run as in production.

    python bench/rest_ingest.py --database postgres://postgres@127.0.0.1:5432/bench_rest --messages 3000
    python bench/rest_ingest.py --sqlite --messages 1000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def recreate_postgres(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


SETUP = """
import django, json, sys
django.setup()
from django.contrib.auth import get_user_model
from contactcenter.models import Connector, EmployeeProfile
from contactcenter.services.availability import presence_connect
from contactcenter.services.rest_connector import rest_connector_token_rotate
from openlines.models import OpenLine, QueueMember
agents = int(sys.argv[1])
line = OpenLine.objects.create(line_name="Bench", queue_type="evenly", max_chat=0, check_available=False)
for i in range(agents):
    user = get_user_model().objects.create_user(f"bench-agent-{i}", password="x", is_staff=True)
    EmployeeProfile.objects.create(user=user)
    presence_connect(user_id=user.pk)
    QueueMember.objects.create(line=line, user=user, sort=i)
connector = Connector.objects.create(kind="rest", line=line, name="Bench REST")
credentials = rest_connector_token_rotate(connector=connector)
print(json.dumps({"uuid": str(connector.uuid), "token": credentials.token}))
"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


async def drive(base: str, uuid_: str, token: str, *, messages: int, clients: int, concurrency: int) -> dict:
    url = f"{base}/api/v1/connectors/{uuid_}/messages/"
    headers = {"Authorization": f"Bearer {token}"}
    latencies: list[float] = []
    errors: dict[int, int] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(messages):
        queue.put_nowait(i)

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            who = i % clients
            body = {
                "user": {"id": f"client-{who}", "name": f"Client {who}"},
                "chat": {"id": f"chat-{who}"},
                "message": {
                    "id": f"msg-{i}-{uuid.uuid4().hex[:6]}",
                    "date": int(time.time()),
                    "text": f"Hello {i}",
                },
            }
            started = time.perf_counter()
            response = await client.post(url, json=body, headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code not in (200, 201):
                errors[response.status_code] = errors.get(response.status_code, 0) + 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "messages": messages,
        "seconds": elapsed,
        "per_second": messages / elapsed,
        "p50": statistics.median(latencies),
        "p95": percentile(latencies, 95),
        "p99": percentile(latencies, 99),
        "max": max(latencies),
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/bench_rest")
    parser.add_argument("--sqlite", action="store_true", help="use a fresh SQLite file instead")
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=300, help="distinct clients (conversations)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--agents", type=int, default=20)
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="bench-rest-")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DATA_DIR=data_dir, LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    if not args.sqlite:
        recreate_postgres(args.database)
        env["DATABASE_URL"] = args.database
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    import json

    setup = subprocess.run(
        [sys.executable, "-c", SETUP, str(args.agents)],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "contactcenter.settings"},
        check=True,
        capture_output=True,
        text=True,
    )
    config = json.loads(setup.stdout.strip().splitlines()[-1])
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--no-demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(Path(data_dir) / "server.log").open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        # Warm-up, then the measured run.
        asyncio.run(drive(base, config["uuid"], config["token"], messages=50, clients=50, concurrency=4))
        result = asyncio.run(
            drive(
                base,
                config["uuid"],
                config["token"],
                messages=args.messages,
                clients=args.clients,
                concurrency=args.concurrency,
            )
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"server log: {data_dir}/server.log")
    backend = "SQLite" if args.sqlite else "PostgreSQL"
    print(
        f"REST connector ingest on {backend}: {args.messages} messages, {args.clients} clients, "
        f"{args.concurrency} in flight, {args.agents} agents"
    )
    print("| messages/s | p50 ms | p95 ms | p99 ms | max ms | errors |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {result['per_second']:.0f} | {result['p50']:.1f} | {result['p95']:.1f} | {result['p99']:.1f} | "
        f"{result['max']:.1f} | {result['errors'] or 0} |"
    )


if __name__ == "__main__":
    main()
