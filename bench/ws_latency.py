"""Websocket message path benchmark: live chat widget (customer) -> agent workspace socket.

    python bench/ws_latency.py --mode embedded --clients 500 --agents 50 --messages 6000 --duration 60
    python bench/ws_latency.py --mode scaled   --clients 500 --agents 50 --messages 6000 --duration 60

Builds its own database (embedded: SQLite in a fresh DATA_DIR; scaled: a fresh PostgreSQL database plus
Redis db 10 with its own channel-layer prefix), creates the agents, one line ("evenly", no chat limit,
no availability check) and the agents' login sessions, then starts the real servers as subprocesses:
embedded = one `manage.py serve --no-demo`; scaled = two `manage.py serve --web-only` + `runtimers` +
`qcluster`, with clients and agents spread over both web processes (cross-process delivery via Redis).

Every widget client gets a token from `POST /livechat/<code>/session/`, opens its socket and sends one
warm-up message (which starts its conversation and offers it to an agent). Then the measured messages
go out at a steady total rate (messages / duration), each carrying its own uuid as text; the agents'
sockets note when the matching `message.new` arrives. Latency = agent receive - client send, both on
this process's monotonic clock. Everything it started is stopped (and the scaled database dropped) at
the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cluster import (
    Processes,
    agents_and_line_create,
    free_port,
    login_session_keys,
    pg_admin,
    redis_flush,
    server_env,
    wait_http,
)

ROOT = Path(__file__).resolve().parents[1]
# BENCH_PG_DB: a database of the run's own when several checkouts share the PostgreSQL server.
PG_DB = os.environ.get("BENCH_PG_DB", "h_wsbench")
REDIS_URL = "redis://127.0.0.1:6379/10"
LINE_CODE = "bench"
CONNECT_ATTEMPTS = 3


# --- setup (runs in a child process with the servers' environment) -----------------------------------


def setup_child(agents: int) -> None:
    """Migrate, create the agents, the line and the agents' session cookies; print them as JSON."""
    sys.path.insert(0, str(ROOT))
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
    django.setup()
    from django.conf import settings

    users, _line = agents_and_line_create(
        agents=agents,
        username_prefix="agent",
        line_values={"line_name": "Bench", "code": LINE_CODE, "queue_time": 1800},
    )
    keys = login_session_keys(users)
    print(json.dumps({"session_keys": keys, "cookie": settings.SESSION_COOKIE_NAME}))


# --- the physical floor (a separate process, so the bench's busy event loop does not inflate it) --------


FLOOR_TABLE = "bench_floor"


def floor_child(database_url: str, redis_url: str, interval: float) -> None:
    """Until SIGTERM: one small INSERT committed in its own transaction over TCP loopback, then one Redis
    PUBLISH until a subscriber on another connection receives it; print each sample as a JSON line."""
    import psycopg
    import redis

    stop = False

    def on_term(*_: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    channel = f"wsbench-floor-{secrets.token_hex(4)}"
    publisher = redis.Redis.from_url(redis_url)
    pubsub = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    while pubsub.get_message(timeout=1.0) is None and not pubsub.subscribed:
        pass
    with psycopg.connect(database_url) as conn:  # host 127.0.0.1 in the URL: TCP, not a Unix socket
        conn.execute(f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (id bigserial PRIMARY KEY, v text)")
        conn.commit()
        while not stop:
            started = time.monotonic()
            conn.execute(f"INSERT INTO {FLOOR_TABLE} (v) VALUES (%s)", (uuid.uuid4().hex,))
            conn.commit()
            committed = time.monotonic()
            token = uuid.uuid4().hex.encode()
            publisher.publish(channel, token)
            while True:
                message = pubsub.get_message(timeout=5.0)
                if message is None or message.get("data") == token:
                    break
            received = time.monotonic()
            if message is not None:
                sample = {
                    "at": started,
                    "pg_ms": (committed - started) * 1000,
                    "redis_ms": (received - committed) * 1000,
                }
                print(json.dumps(sample), flush=True)
            time.sleep(interval)


@dataclass
class Floor:
    """The floor child's samples, read from its output file."""

    path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, database_url: str, interval: float) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--floor-child",
                "--floor-interval",
                str(interval),
            ],
            env={**os.environ, "FLOOR_DATABASE_URL": database_url, "FLOOR_REDIS_URL": REDIS_URL},
            stdout=self.path.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def samples(self, start: float, end: float) -> list[dict[str, float]]:
        rows = []
        for line in self.path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                row = json.loads(line)
                if isinstance(row, dict) and start <= row.get("at", -1) <= end:
                    rows.append(row)
        return rows


def floor_summary(samples: list[dict[str, float]]) -> dict[str, Any]:
    if not samples:
        return {"floor_samples": 0}
    total = sorted(r["pg_ms"] + r["redis_ms"] for r in samples)
    pg = sorted(r["pg_ms"] for r in samples)
    rd = sorted(r["redis_ms"] for r in samples)
    return {
        "floor_samples": len(samples),
        "floor_p50_ms": round(percentile(total, 50), 2),
        "floor_p99_ms": round(percentile(total, 99), 2),
        "floor_pg_commit_p50_ms": round(percentile(pg, 50), 2),
        "floor_redis_roundtrip_p50_ms": round(percentile(rd, 50), 2),
    }


def percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


# --- the load ----------------------------------------------------------------------------------------


@dataclass
class Stats:
    sent_at: dict[str, float] = field(default_factory=dict)
    received_at: dict[str, float] = field(default_factory=dict)
    acked: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    duplicated: set[str] = field(default_factory=set)
    same_socket_twice: int = 0
    connect_retries: int = 0


async def agent_socket(
    url: str, cookie: str, stats: Stats, ready: asyncio.Event, stop: asyncio.Event
) -> None:
    import websockets

    origin = url.replace("ws://", "http://").split("/ws/")[0]
    headers = {"Cookie": cookie, "Origin": origin}
    async with websockets.connect(url, additional_headers=headers, max_queue=None) as ws:
        hello = json.loads(await ws.recv())
        if hello.get("type") != "hello":
            raise RuntimeError(f"agent socket refused: {hello}")
        ready.set()
        seen: set[Any] = set()
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except TimeoutError:
                continue
            now = time.monotonic()
            event = json.loads(raw)
            if event.get("type") != "message.new":
                continue
            message_id = (event.get("message") or {}).get("id")
            if message_id in seen:
                stats.same_socket_twice += 1  # exactly-once broken
            seen.add(message_id)
            text = (event.get("message") or {}).get("text", "")
            if text in stats.sent_at:
                if text in stats.received_at:
                    stats.duplicated.add(text)  # several agents see it (e.g. an offer moved); first counts
                else:
                    stats.received_at[text] = now


@dataclass
class Client:
    index: int
    url: str
    ws: Any = None
    inbox: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)


async def client_reader(client: Client, stats: Stats) -> None:
    import websockets

    with contextlib.suppress(websockets.ConnectionClosed):
        async for raw in client.ws:
            event = json.loads(raw)
            kind = event.get("type")
            if kind == "ack":
                stats.acked.add(str(event.get("client_id")))
            elif kind == "error":
                stats.errors.append(json.dumps(event)[:300])
            await client.inbox.put(event)


async def client_open(client: Client, http_base: str, stats: Stats) -> asyncio.Task[None]:
    import httpx
    import websockets

    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(f"{http_base}/livechat/{LINE_CODE}/session/", json={})
        response.raise_for_status()
        token = response.json()["token"]
    for attempt in range(CONNECT_ATTEMPTS):
        try:
            client.ws = await websockets.connect(f"{client.url}?token={token}", max_queue=None)
            break
        except (OSError, websockets.InvalidHandshake, TimeoutError):
            # The widget reconnects too; counted so a flaky handshake does not hide in the numbers.
            stats.connect_retries += 1
            if attempt == CONNECT_ATTEMPTS - 1:
                raise
            await asyncio.sleep(1 + attempt)
    hello = json.loads(await client.ws.recv())
    if hello.get("type") != "hello":
        raise RuntimeError(f"widget socket refused: {hello}")
    reader = asyncio.create_task(client_reader(client, stats))
    # The warm-up message starts the conversation; measured messages then go to its agent.
    warm = uuid.uuid4().hex
    await client.ws.send(json.dumps({"type": "message", "client_id": warm, "text": f"hello {warm}"}))
    while True:
        event = await asyncio.wait_for(client.inbox.get(), timeout=60)
        if event.get("type") == "ack" and event.get("client_id") == warm:
            break
        if event.get("type") == "error":
            raise RuntimeError(f"warm-up refused: {event}")
    return reader


async def client_send(client: Client, schedule: list[float], stats: Stats, keys: list[str]) -> None:
    for at in schedule:
        delay = at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        key = uuid.uuid4().hex
        keys.append(key)
        stats.sent_at[key] = time.monotonic()
        await client.ws.send(json.dumps({"type": "message", "client_id": key, "text": key}))


async def gather_limited(coros: list[Any], limit: int) -> list[Any]:
    semaphore = asyncio.Semaphore(limit)

    async def run(coro: Any) -> Any:
        async with semaphore:
            return await coro

    return await asyncio.gather(*(run(c) for c in coros))


async def load(
    args: argparse.Namespace, ports: list[int], cookie_name: str, keys: list[str], floor: Floor | None
) -> dict[str, Any]:
    stats = Stats()
    stop = asyncio.Event()
    agent_tasks = []
    readies = []
    for n, key in enumerate(keys):
        port = ports[n % len(ports)]
        ready = asyncio.Event()
        readies.append(ready)
        url = f"ws://127.0.0.1:{port}/ws/staff/"
        agent_tasks.append(asyncio.create_task(agent_socket(url, f"{cookie_name}={key}", stats, ready, stop)))
    all_ready: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*(r.wait() for r in readies)))
    watched: list[asyncio.Future[Any]] = [all_ready, *agent_tasks]
    done, _pending = await asyncio.wait(watched, timeout=60, return_when="FIRST_COMPLETED")
    for task in done:
        task.result()  # an agent socket that failed raises here
    if not all_ready.done():
        raise SystemExit("agent sockets did not connect within 60 s")
    print(f"{len(keys)} agent sockets connected", flush=True)

    clients = [
        Client(index=n, url=f"ws://127.0.0.1:{ports[n % len(ports)]}/ws/livechat/{LINE_CODE}/")
        for n in range(args.clients)
    ]
    started = time.monotonic()
    readers = await gather_limited(
        [client_open(c, f"http://127.0.0.1:{ports[c.index % len(ports)]}", stats) for c in clients], 25
    )
    opened = time.monotonic() - started
    print(f"{len(clients)} widget clients connected, conversations started in {opened:.1f} s", flush=True)
    await asyncio.sleep(args.settle)

    rates = args.rates or [args.messages / args.duration]
    stages = []
    for rate in rates:
        stage = await load_stage(args, clients, stats, rate, floor)
        stages.append(stage)
        print(json.dumps(stage), flush=True)
        if stage["lost"] or (stage["p99_ms"] or 0) > args.stop_above_ms:
            break  # saturated: a higher rate only queues more
        await asyncio.sleep(args.settle)
    stop.set()
    for c in clients:
        await c.ws.close()
    for task in [*readers, *agent_tasks]:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=5)
    result: dict[str, Any] = {
        "mode": args.mode,
        "clients": args.clients,
        "agents": args.agents,
        "conversations_started_s": round(opened, 1),
        "errors": len(stats.errors),
        "error_samples": stats.errors[:5],
        "widget_connect_retries": stats.connect_retries,
        "message_new_twice_on_one_agent_socket": stats.same_socket_twice,
        "stages": stages,
    }
    if len(stages) == 1:
        result.update(stages[0])
    return result


async def load_stage(
    args: argparse.Namespace, clients: list[Client], stats: Stats, rate: float, floor: Floor | None
) -> dict[str, Any]:
    """Messages at a steady total `rate` for `--duration` s, round-robin over the clients; then wait up to
    `--timeout` s for the last deliveries."""
    count = max(1, round(rate * args.duration))
    cpu_start = time.process_time()
    t0 = time.monotonic() + 0.5
    schedules: list[list[float]] = [[] for _ in clients]
    for k in range(count):
        schedules[k % len(clients)].append(t0 + k / rate)
    keys: list[str] = []
    print(f"sending {count} messages at {rate:.0f}/s for {args.duration:.0f} s", flush=True)
    await asyncio.gather(
        *(client_send(c, s, stats, keys) for c, s in zip(clients, schedules, strict=True) if s)
    )
    sending_done = time.monotonic()
    deadline = sending_done + args.timeout
    while any(k not in stats.received_at for k in keys) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    received = [k for k in keys if k in stats.received_at]
    latencies = sorted((stats.received_at[k] - stats.sent_at[k]) * 1000 for k in received)
    last = max((stats.received_at[k] for k in received), default=t0)
    stage: dict[str, Any] = {
        "target_rate": round(rate, 1),
        "sent": len(keys),
        "delivered": len(received),
        "lost": len(keys) - len(received),
        "acked": len(stats.acked & set(keys)),
        "also_seen_by_another_agent": len([k for k in keys if k in stats.duplicated]),
        "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 95), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        "delivered_per_s": round(len(latencies) / (last - t0), 1) if latencies and last > t0 else 0,
        "send_seconds": round(sending_done - t0, 1),
        "load_average": os.getloadavg()[0],
        # The bench shares the 2 cores: its own CPU use during the stage, in cores.
        "bench_cpu_cores": round((time.process_time() - cpu_start) / max(0.001, time.monotonic() - t0), 2),
    }
    if floor is not None:
        stage.update(floor_summary(floor.samples(t0, sending_done)))
        if stage.get("floor_p50_ms") and stage["p50_ms"] is not None:
            stage["p50_over_floor"] = round(stage["p50_ms"] / stage["floor_p50_ms"], 2)
    return stage


# --- main --------------------------------------------------------------------------------------------


def bench_env(args: argparse.Namespace, data_dir: Path) -> dict[str, str]:
    if args.mode != "scaled":
        return server_env(data_dir)
    return server_env(
        data_dir,
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{PG_DB}",
        REDIS_URL=REDIS_URL,
        REDIS_KEY_PREFIX=f"wsbench{secrets.token_hex(3)}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=["embedded", "scaled"], default="embedded")
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--messages", type=int, default=3000, help="measured messages in total")
    parser.add_argument(
        "--duration", type=float, default=30, help="seconds to send them over (sets the rate)"
    )
    parser.add_argument("--timeout", type=float, default=15, help="seconds to wait for late deliveries")
    parser.add_argument("--settle", type=float, default=3, help="pause after the warm-up messages")
    parser.add_argument("--web-processes", type=int, default=2, help="scaled mode: ASGI processes")
    parser.add_argument("--keep", action="store_true", help="keep the data directory (server logs)")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument(
        "--rates",
        type=lambda v: [float(x) for x in v.split(",")],
        help="comma-separated messages/s, one stage of --duration s each, lowest first (replaces --messages);"
        " stops after a stage that loses messages or whose p99 exceeds --stop-above-ms",
    )
    parser.add_argument("--stop-above-ms", type=float, default=2000)
    parser.add_argument(
        "--floor",
        action="store_true",
        help="scaled mode: also measure, in a separate process during the same run, one PostgreSQL commit"
        " (small INSERT, own transaction, TCP loopback) + one Redis publish -> subscriber receive",
    )
    parser.add_argument("--floor-interval", type=float, default=0.05, help="seconds between floor samples")
    parser.add_argument("--setup-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floor-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup_child:
        setup_child(args.agents)
        return
    if args.floor_child:
        floor_child(os.environ["FLOOR_DATABASE_URL"], os.environ["FLOOR_REDIS_URL"], args.floor_interval)
        return
    if args.floor and args.mode != "scaled":
        parser.error("--floor needs --mode scaled (PostgreSQL + Redis)")

    # SIGTERM takes the same way out as Ctrl-C, so the finally block always cleans up.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    data_dir = Path(tempfile.mkdtemp(prefix=f"wsbench-{args.mode}-"))
    procs = Processes(data_dir)
    env = bench_env(args, data_dir)
    scaled = args.mode == "scaled"
    floor: Floor | None = None
    idle: dict[str, Any] = {}
    try:
        if scaled:
            pg_admin(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
            pg_admin(f'CREATE DATABASE "{PG_DB}"')
            redis_flush(REDIS_URL)
        print(f"setting up in {data_dir} ...", flush=True)
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--setup-child", "--agents", str(args.agents)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        setup = json.loads(out.stdout.strip().splitlines()[-1])
        if args.floor:
            floor = Floor(data_dir / "floor.jsonl")
            floor.start(f"postgres://postgres@127.0.0.1:5432/{PG_DB}", args.floor_interval)
            idle_from = time.monotonic()
            time.sleep(5)
            idle = floor_summary(floor.samples(idle_from, time.monotonic()))
        ports = [free_port() for _ in range(args.web_processes if scaled else 1)]
        for n, port in enumerate(ports):
            serve = ["serve", "--no-demo", "--port", str(port)] + (["--web-only"] if scaled else [])
            procs.start(f"web{n}", serve, env)
        if scaled:
            procs.start("runtimers", ["runtimers"], env)
            procs.start("qcluster", ["qcluster"], env)
        for port in ports:
            wait_http(f"http://127.0.0.1:{port}/healthz", procs)
        print(f"servers up on ports {ports}", flush=True)
        result = asyncio.run(load(args, ports, setup["cookie"], setup["session_keys"], floor))
        procs.check_alive()
        if floor is not None:
            result["floor_before_load"] = idle
        result["web_processes"] = len(ports)
        result["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        result["cpus"] = os.cpu_count()
        result["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2) + "\n")
    except subprocess.CalledProcessError as error:
        print(error.stdout, error.stderr, file=sys.stderr)
        raise SystemExit("setup failed") from None
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        if floor is not None:
            floor.stop()
        procs.stop()
        if scaled:
            with contextlib.suppress(Exception):
                pg_admin(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
            with contextlib.suppress(Exception):
                redis_flush(REDIS_URL)
        if not args.keep:
            import shutil

            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"logs kept in {data_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
