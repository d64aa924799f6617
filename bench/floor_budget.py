"""What the mandated stack itself carries on this machine (issue 9 budget; docs/performance.md, "What 2 cores
can carry").

    python bench/floor_budget.py --components --component-seconds 4 \\
        --configs 4:orm:ts,2:raw:free:pubsub,4:orm:ts:pubsub \\
        --rates 100,200,300,400,600,800,1000,1400 --duration 12 --json result.json

A minimal pipeline with none of the product's business logic (bench/floor_app): daphne serves a
"customer" socket whose every frame goes through `database_sync_to_async` into one transaction with one
INSERT of a message row (Django ORM or a raw cursor, psycopg 3 pool, PostgreSQL) and its commit, then
`group_send` (channels-redis, the project's layer settings) to the group of the conversation's agent, whose
socket gets the frame. 1,000 customer sockets, 100 agent sockets, spread over the daphne processes so that
about half the messages cross processes.

Per configuration `<daphne processes>:<orm|raw>:<ts|free>[:pubsub]` (ts = thread_sensitive=True,
free = False; pubsub = channels-redis's Pub/Sub layer instead of the project's list-based one): one
unmeasured warm-up message per customer, `--idle-seconds` of CPU with every socket open and silent, then
the offered rate rises stage by stage (`--rates`, `--duration` s each, round-robin over the customers)
until a stage saturates (delivered below 95 % of offered, a message not delivered within `--timeout` s, a
customer socket closed, or p99 above `--stop-above-ms`). Per stage: delivered/s, latency p50/p95/p99 (agent
receive - customer send, this process's monotonic clock), CPU-seconds per delivered message of each
process group from /proc/<pid>/stat (daphne processes and their event-loop threads; every PostgreSQL
process incl. walwriter, checkpointer; redis-server; this driver; the floor probe), the machine's busy
share from /proc/stat, and daphne's garbage-collection pauses. The floor (one PostgreSQL commit + one
Redis publish/receive) runs during the whole run exactly as `bench/ws_latency.py --floor` does (same code).

`--components`: CPU per operation of the parts alone, before the pipeline stages: a websocket frame echoed
by daphne (no database, no layer); channels-redis group_send + receive (project's layer, also with 1,100
idle receivers, and Pub/Sub); one ORM / raw INSERT + COMMIT on a held connection and the ORM one with the
pool hand-back `database_sync_to_async` does around each call, with the client's and PostgreSQL's CPU.

Own PostgreSQL database (dropped at the end) and a fresh Redis key prefix per configuration (its keys deleted
at the end); prints each stage as a JSON line and the whole result as one JSON document (`--json`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cluster import Processes, free_port, pg_admin, server_env, wait_http
from loadkit import load_average, raise_nofile, tree_pids
from ws_latency import Floor, floor_summary, percentile

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
PAD = "x" * 64  # a short chat line
TICK = os.sysconf("SC_CLK_TCK")


# --- CPU accounting from /proc ----------------------------------------------------------------------


def proc_cpu(pid: int, *, main_thread: bool = False) -> float:
    """utime + stime of a process (all its threads, or only its main thread) in seconds; 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/task/{pid}/stat" if main_thread else f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def pids_named(name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{entry}/comm").read_text().strip() == name:
                    found.append(int(entry))
    return found


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores from /proc/stat; idle and iowait count as not busy."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    return total - values[3] - values[4], total


@dataclass
class CpuSnapshot:
    at: float
    groups: dict[str, float]
    busy: int
    total: int


def cpu_snapshot(groups: dict[str, list[int]]) -> CpuSnapshot:
    """CPU seconds per group; PostgreSQL and Redis are found by process name at every snapshot."""
    pids = {**groups, "postgres": pids_named("postgres"), "redis": pids_named("redis-server")}
    busy, total = machine_ticks()
    cpu = {name: sum(proc_cpu(p) for p in ps) for name, ps in pids.items()}
    if "daphne" in groups:  # the event loop runs in the main thread; database calls in executor threads
        cpu["daphne event loop"] = sum(proc_cpu(p, main_thread=True) for p in groups["daphne"])
    return CpuSnapshot(time.monotonic(), cpu, busy, total)


def cpu_delta(before: CpuSnapshot, after: CpuSnapshot, operations: int) -> dict[str, Any]:
    """Per group: CPU ms per operation and cores used; plus the machine's busy share."""
    seconds = max(1e-6, after.at - before.at)
    out: dict[str, Any] = {}
    accounted = 0.0
    for name, value in after.groups.items():
        used = max(0.0, value - before.groups.get(name, 0.0))
        accounted += used if name != "daphne event loop" else 0.0  # part of "daphne"
        out[f"{name}_ms_per_op"] = round(used * 1000 / max(1, operations), 3)
        out[f"{name}_cores"] = round(used / seconds, 3)
    busy_ticks = after.busy - before.busy
    out["all_groups_ms_per_op"] = round(accounted * 1000 / max(1, operations), 3)
    out["machine_busy_share"] = round(busy_ticks / max(1, after.total - before.total), 3)
    out["machine_busy_cores"] = round(busy_ticks / TICK / seconds, 3)
    out["machine_ms_per_op"] = round(busy_ticks / TICK * 1000 / max(1, operations), 3)
    return out


# --- garbage collection pauses ---------------------------------------------------------------------

DRIVER_GC: list[tuple[float, float]] = []  # (start, ms) of this process's collections of >= 1 ms
_gc_started = [0.0]


def driver_gc_log(phase: str, _info: dict[str, Any]) -> None:
    if phase == "start":
        _gc_started[0] = time.monotonic()
    elif (took := time.monotonic() - _gc_started[0]) >= 0.001:
        DRIVER_GC.append((_gc_started[0], took * 1000))


def daphne_gc_pauses(logs: list[Path]) -> list[tuple[float, float]]:
    """The (start, ms) lines floor_app/asgi.py wrote to the daphne logs."""
    pauses = []
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith('{"gc_pause"'):
                with contextlib.suppress(ValueError, KeyError):
                    pause = json.loads(line)["gc_pause"]
                    pauses.append((float(pause["at"]), float(pause["ms"])))
    return pauses


def gc_summary(pauses: list[tuple[float, float]], start: float, end: float) -> dict[str, Any]:
    inside = [ms for at, ms in pauses if start <= at <= end]
    return {
        "count_over_10ms": sum(ms >= 10 for ms in inside),
        "max_ms": round(max(inside, default=0.0), 1),
        "total_ms": round(sum(inside), 1),
    }


# --- components alone (child processes with the pipeline's settings) --------------------------------


def django_child_setup() -> None:
    sys.path[:0] = [str(BENCH), str(ROOT)]
    os.environ["DJANGO_SETTINGS_MODULE"] = "floor_app.settings"
    import django

    django.setup()


def setup_child() -> None:
    django_child_setup()
    from django.db import connection
    from floor_app.models import FloorMessage

    with connection.schema_editor() as editor:
        editor.create_model(FloorMessage)
    print(json.dumps({"ops": 1}))


def insert_child(kind: str, seconds: float) -> None:
    """INSERT + COMMIT in a loop, one connection from the pool, as the consumer does (without the thread
    hop); prints ops, this process's CPU and its PostgreSQL backend's CPU over the loop."""
    django_child_setup()
    from django.db import close_old_connections, connection
    from floor_app import consumers

    plain = consumers.store_orm if kind.startswith("orm") else consumers.store_raw

    def pooled(conversation: int, text: str) -> int:
        # What database_sync_to_async adds around the call: with CONN_MAX_AGE=0 the connection goes back
        # to the pool after every call and is taken out again (and set up) before the next one.
        close_old_connections()
        try:
            return plain(conversation, text)
        finally:
            close_old_connections()

    store = pooled if kind.endswith("pooled") else plain
    plain(0, "warm-up")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = int(cursor.fetchone()[0])
    ops = 0
    deadline = time.monotonic() + seconds
    cpu0, wall0 = time.process_time(), time.monotonic()
    # Pooled calls rotate over the pool's connections, so every PostgreSQL process is counted too.
    postgres = pids_named("postgres")
    backend0, postgres0 = proc_cpu(backend), sum(proc_cpu(p) for p in postgres)
    while time.monotonic() < deadline:
        store(ops % 1000, f"{ops}:{PAD}")
        ops += 1
    wall = time.monotonic() - wall0
    print(
        json.dumps(
            {
                "ops": ops,
                "ops_per_s": round(ops / wall, 1),
                "client_ms_per_op": round((time.process_time() - cpu0) * 1000 / ops, 3),
                "backend_ms_per_op": round((proc_cpu(backend) - backend0) * 1000 / ops, 3),
                "all_postgres_ms_per_op": round(
                    (sum(proc_cpu(p) for p in postgres) - postgres0) * 1000 / ops, 3
                ),
                "wall_ms_per_op": round(wall * 1000 / ops, 3),
            }
        )
    )


def layer_child(seconds: float, concurrency: int, idle: int) -> None:
    """`concurrency` loops of group_send to a group of one channel + receive on that channel, while `idle`
    more channels of the process wait in receive() as the silent sockets' consumers do in daphne."""
    django_child_setup()
    from channels.layers import get_channel_layer

    async def main() -> dict[str, Any]:
        layer: Any = get_channel_layer()
        channels = []
        for n in range(concurrency):
            channel = await layer.new_channel()
            await layer.group_add(f"component{n}", channel)
            channels.append(channel)
        waiting = [asyncio.ensure_future(layer.receive(await layer.new_channel())) for _ in range(idle)]
        await asyncio.sleep(0.5)
        ops = 0
        deadline = time.monotonic() + seconds

        async def loop(n: int) -> None:
            nonlocal ops
            while time.monotonic() < deadline:
                await layer.group_send(f"component{n}", {"type": "customer.message", "text": PAD})
                await layer.receive(channels[n])
                ops += 1

        deadline = time.monotonic() + 0.5
        await loop(0)  # warm-up of the connection pool
        ops = 0
        deadline = time.monotonic() + seconds
        cpu0, wall0 = time.process_time(), time.monotonic()
        await asyncio.gather(*(loop(n) for n in range(concurrency)))
        wall = time.monotonic() - wall0
        for n in range(concurrency):
            await layer.group_discard(f"component{n}", channels[n])
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        return {
            "ops": ops,
            "ops_per_s": round(ops / wall, 1),
            "client_ms_per_op": round((time.process_time() - cpu0) * 1000 / ops, 3),
        }

    print(json.dumps(asyncio.run(main())))


def run_child(args: list[str], env: dict[str, str], groups: dict[str, list[int]]) -> dict[str, Any]:
    """Run a component child; add the machine-wide group deltas (PostgreSQL, Redis) over its run."""
    before = cpu_snapshot(groups)
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    after = cpu_snapshot(groups)
    if out.returncode != 0:
        raise SystemExit(f"{args} failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    whole = cpu_delta(before, after, result["ops"])
    # The child's own start-up (Django import) falls into its window, so only the servers' groups count.
    result.update({k: v for k, v in whole.items() if k.startswith(("postgres_ms", "redis_ms"))})
    return result


# --- the pipeline: driver side ----------------------------------------------------------------------


@dataclass
class Run:
    received: dict[int, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    send_errors: int = 0


async def agent_reader(ws: Any, run: Run) -> None:
    import websockets

    with contextlib.suppress(websockets.ConnectionClosed):
        async for raw in ws:
            now = time.monotonic()
            key = int(str(raw).split(":", 1)[0])
            if key in run.received:
                run.errors.append(f"message {key} delivered twice")
            run.received[key] = now


async def connect_all(urls: list[str], limit: int = 50) -> list[Any]:
    import websockets

    semaphore = asyncio.Semaphore(limit)

    async def one(url: str) -> Any:
        async with semaphore:
            return await websockets.connect(url, max_queue=None, ping_interval=None, open_timeout=60)

    return list(await asyncio.gather(*(one(u) for u in urls)))


async def echo_component(ports: list[int], sockets: int, seconds: float, groups: dict[str, list[int]]) -> Any:
    """Closed loop: `sockets` sockets each send a frame and wait for daphne's echo, for `seconds` s."""
    conns = await connect_all([f"ws://127.0.0.1:{ports[n % len(ports)]}/ws/echo/" for n in range(sockets)])
    ops = 0
    deadline = time.monotonic() + 0.5  # warm-up

    async def loop(ws: Any) -> None:
        nonlocal ops
        while time.monotonic() < deadline:
            await ws.send(PAD)
            await ws.recv()
            ops += 1

    await asyncio.gather(*(loop(ws) for ws in conns))
    ops = 0
    deadline = time.monotonic() + seconds
    before = cpu_snapshot(groups)
    await asyncio.gather(*(loop(ws) for ws in conns))
    after = cpu_snapshot(groups)
    for ws in conns:
        await ws.close()
    result = {"ops": ops, "ops_per_s": round(ops / (after.at - before.at), 1)}
    result.update(cpu_delta(before, after, ops))
    return result


async def stage(
    args: argparse.Namespace,
    customers: list[Any],
    run: Run,
    rate: float,
    first_key: int,
    groups: dict[str, list[int]],
    floor: Floor | None,
    count: int = 0,
) -> dict[str, Any]:
    import websockets

    count = count or max(1, round(rate * args.duration))
    send_errors = run.send_errors
    sent_at = [0.0] * count
    lag = [0.0] * count
    t0 = time.monotonic() + 0.2
    await asyncio.sleep(max(0.0, t0 - time.monotonic()))
    before = cpu_snapshot(groups)
    sent = 0
    while sent < count:
        now = time.monotonic()
        due = min(count, int((now - t0) * rate) + 1)
        while sent < due:
            now = time.monotonic()
            sent_at[sent] = now
            lag[sent] = now - (t0 + sent / rate)
            try:
                await customers[sent % len(customers)].send(f"{first_key + sent}:{PAD}")
            except websockets.ConnectionClosed as error:  # the server closed it: counted, never hidden
                run.send_errors += 1
                if len(run.errors) < 10:
                    run.errors.append(f"customer socket closed: {error}")
            sent += 1
        await asyncio.sleep(0.001)
    sending_done = time.monotonic()
    after = cpu_snapshot(groups)
    deadline = sending_done + args.timeout
    last_key = first_key + count - 1
    while time.monotonic() < deadline and any(k not in run.received for k in range(first_key, last_key + 1)):
        await asyncio.sleep(0.05)
    latencies = sorted(
        (run.received[first_key + n] - sent_at[n]) * 1000
        for n in range(count)
        if first_key + n in run.received
    )
    in_window = sum(1 for n in range(count) if run.received.get(first_key + n, float("inf")) <= sending_done)
    delivered = len(latencies)
    result: dict[str, Any] = {
        "offered": rate,
        "sent": count,
        "delivered": delivered,
        "lost": count - delivered,
        "delivered_per_s": round(in_window / (sending_done - t0), 1),
        "p50_ms": round(percentile(latencies, 50), 2) if latencies else None,
        "p95_ms": round(percentile(latencies, 95), 2) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 2) if latencies else None,
        "max_ms": round(latencies[-1], 2) if latencies else None,
        "send_errors": run.send_errors - send_errors,
        "send_lag_p99_ms": round(percentile(sorted(lag), 99) * 1000, 2),
        "load_average": load_average(),
        "window": [t0, sending_done],
    }
    result.update(cpu_delta(before, after, max(1, in_window)))
    if floor is not None:
        result.update(floor_summary(floor.samples(t0, sending_done)))
        if result.get("floor_p50_ms") and result["p50_ms"] is not None:
            result["p50_over_floor"] = round(result["p50_ms"] / result["floor_p50_ms"], 2)
    return result


def saturated(args: argparse.Namespace, result: dict[str, Any]) -> bool:
    return bool(
        result["lost"]
        or result["send_errors"]
        or result["delivered_per_s"] < 0.95 * result["offered"]
        or (result["p99_ms"] or 0) > args.stop_above_ms
    )


async def pipeline(
    args: argparse.Namespace,
    ports: list[int],
    groups: dict[str, list[int]],
    floor: Floor | None,
    echo: bool,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if echo:
        out["echo"] = await echo_component(ports, args.echo_sockets, args.component_seconds, groups)
        print("echo", json.dumps(out["echo"]), flush=True)
    run = Run()
    n = len(ports)
    agents = await connect_all([f"ws://127.0.0.1:{ports[a % n]}/ws/agent/{a}/" for a in range(args.agents)])
    readers = [asyncio.create_task(agent_reader(ws, run)) for ws in agents]
    # Customer c talks to agent c % agents; its process is chosen independently of the agent's, so about
    # (n-1)/n of the messages cross processes.
    customers = await connect_all(
        [f"ws://127.0.0.1:{ports[(c // args.agents) % n]}/ws/customer/{c}/" for c in range(args.customers)]
    )
    # One unmeasured message per customer first: the processes' first database and Redis connections, the
    # pool growing, lazy imports and caches are start-up costs, not the steady state the stages measure.
    warmup = await stage(args, customers, run, args.warmup_rate, 0, groups, None, count=len(customers))
    out["warmup"] = {k: warmup[k] for k in ("sent", "delivered", "p50_ms", "p99_ms", "max_ms")}
    print("warm-up (not measured)", json.dumps(out["warmup"]), flush=True)
    first_key = warmup["sent"]
    await asyncio.sleep(args.settle)
    before = cpu_snapshot(groups)
    await asyncio.sleep(args.idle_seconds)
    idle = cpu_delta(before, cpu_snapshot(groups), 1)
    out["idle"] = {k: v for k, v in idle.items() if k.endswith("_cores")}
    print("idle (all sockets open, no traffic)", json.dumps(out["idle"]), flush=True)
    stages = []
    for rate in args.rates:
        result = await stage(args, customers, run, rate, first_key, groups, floor)
        first_key += result["sent"]
        stages.append(result)
        print(json.dumps(result), flush=True)
        if saturated(args, result):
            break
        await asyncio.sleep(args.settle)
    for ws in [*customers, *agents]:
        with contextlib.suppress(Exception):
            await ws.close()
    for task in readers:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, timeout=5)
    out["stages"] = stages
    out["errors"] = run.errors[:10]
    out["send_errors"] = run.send_errors
    return out


# --- orchestration ----------------------------------------------------------------------------------


def parse_config(text: str) -> dict[str, Any]:
    """`<daphne processes>:<orm|raw>:<ts|free>[:pubsub]`."""
    parts = text.split(":")
    layer = parts[3] if len(parts) == 4 else "core"
    if len(parts) not in (3, 4) or parts[1] not in ("orm", "raw") or parts[2] not in ("ts", "free"):
        raise argparse.ArgumentTypeError(f"config {text!r}: <processes>:<orm|raw>:<ts|free>[:pubsub]")
    if layer not in ("core", "pubsub"):
        raise argparse.ArgumentTypeError(f"config {text!r}: the layer is 'pubsub' or left out")
    return {
        "name": text,
        "processes": int(parts[0]),
        "insert": parts[1],
        "thread_sensitive": parts[2] == "ts",
        "layer": layer,
    }


def redis_delete_prefix(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--configs", type=lambda v: [parse_config(c) for c in v.split(",")], default="1:orm:ts"
    )
    parser.add_argument("--rates", type=lambda v: [float(x) for x in v.split(",")], default="100,200,400")
    parser.add_argument("--duration", type=float, default=20, help="seconds per stage")
    parser.add_argument(
        "--timeout", type=float, default=5, help="seconds to wait for a stage's late messages"
    )
    parser.add_argument("--settle", type=float, default=2)
    parser.add_argument("--warmup-rate", type=float, default=200, help="one unmeasured message per customer")
    parser.add_argument(
        "--idle-seconds", type=float, default=5, help="CPU of the open, silent sockets before the stages"
    )
    parser.add_argument("--stop-above-ms", type=float, default=1000)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--components", action="store_true", help="also measure the components alone")
    parser.add_argument("--component-seconds", type=float, default=5)
    parser.add_argument("--echo-sockets", type=int, default=50)
    parser.add_argument("--layer-concurrency", type=int, default=20)
    parser.add_argument("--no-floor", action="store_true")
    parser.add_argument("--floor-interval", type=float, default=0.05)
    parser.add_argument("--pg-db", default="h_budget_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--keep", action="store_true", help="keep the data directory (server logs)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind = args.child[0]
        if kind == "setup":
            setup_child()
        elif kind == "insert":
            insert_child(args.child[1], float(args.child[2]))
        elif kind == "layer":
            layer_child(float(args.child[1]), int(args.child[2]), int(args.child[3]))
        return
    if "bench" not in args.pg_db:
        raise SystemExit(f"refusing database {args.pg_db!r}: its name must contain 'bench' (it is dropped)")

    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    gc.callbacks.append(driver_gc_log)
    raise_nofile()
    data_dir = Path(tempfile.mkdtemp(prefix="floor-budget-"))
    database_url = f"postgres://postgres@127.0.0.1:5432/{args.pg_db}"
    prefixes: list[str] = []
    floor: Floor | None = None
    result: dict[str, Any] = {
        "command": "python bench/floor_budget.py " + " ".join(sys.argv[1:]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "load_average_start": load_average(),
        "cpus": os.cpu_count(),
        "configs": {},
    }
    procs_list: list[Processes] = []

    def env_for(prefix: str, **extra: str) -> dict[str, str]:
        env = server_env(
            data_dir, DATABASE_URL=database_url, REDIS_URL=args.redis_url, REDIS_KEY_PREFIX=prefix
        )
        env["PYTHONPATH"] = os.pathsep.join([str(BENCH), str(ROOT)])
        env.update(extra)
        return env

    try:
        pg_admin(f'DROP DATABASE IF EXISTS "{args.pg_db}" WITH (FORCE)')
        pg_admin(f'CREATE DATABASE "{args.pg_db}"')
        prefixes.append(f"{args.pg_db}_{secrets.token_hex(3)}")
        run_child(["--child", "setup"], env_for(prefixes[-1]), {})
        if not args.no_floor:
            floor = Floor(data_dir / "floor.jsonl")
            floor.start(database_url, args.floor_interval)
            idle_from = time.monotonic()
            time.sleep(5)
            result["floor_before_load"] = floor_summary(floor.samples(idle_from, time.monotonic()))
            print("floor before load", json.dumps(result["floor_before_load"]), flush=True)
        driver = {"driver": [os.getpid()], "floor probe": [floor.proc.pid] if floor and floor.proc else []}
        if args.components:
            components: dict[str, Any] = {}
            env = env_for(prefixes[-1])
            for kind in ("orm", "raw", "orm-pooled"):
                components[f"insert_{kind}"] = run_child(
                    ["--child", "insert", kind, str(args.component_seconds)], env, driver
                )
                print(f"insert {kind}", json.dumps(components[f"insert_{kind}"]), flush=True)
            for layer, idle in (("core", 0), ("core", args.customers + args.agents), ("pubsub", 0)):
                name = f"layer_{layer}_{idle}_idle"
                components[name] = run_child(
                    ["--child", "layer", str(args.component_seconds), str(args.layer_concurrency), str(idle)],
                    {**env, "FLOOR_LAYER": layer},
                    driver,
                )
                print(name, json.dumps(components[name]), flush=True)
            result["components"] = components
        for index, config in enumerate(args.configs):
            prefixes.append(f"{args.pg_db}_{secrets.token_hex(3)}")
            env = env_for(
                prefixes[-1],
                FLOOR_INSERT=config["insert"],
                FLOOR_THREAD_SENSITIVE="1" if config["thread_sensitive"] else "0",
                FLOOR_AGENTS=str(args.agents),
                FLOOR_LAYER=config["layer"],
            )
            procs = Processes(data_dir)
            procs_list.append(procs)
            ports = [free_port() for _ in range(config["processes"])]
            for n, port in enumerate(ports):
                procs.start(
                    f"{config['name'].replace(':', '-')}-daphne{n}",
                    ["-v", "0", "-b", "127.0.0.1", "-p", str(port), "floor_app.asgi:application"],
                    env,
                    module="daphne",
                )
            for port in ports:
                wait_http(f"http://127.0.0.1:{port}/", procs)
            groups = {**driver, "daphne": [pid for _n, p in procs.procs for pid in tree_pids(p.pid)]}
            print(f"config {config['name']}: daphne on {ports}", flush=True)
            echo = args.components and index == 0
            try:
                outcome = asyncio.run(pipeline(args, ports, groups, floor, echo))
                procs.check_alive()
            except (Exception, SystemExit) as error:  # the next configuration still runs
                outcome = {"failed": str(error)[-3000:]}
                print(f"config {config['name']} failed: {error}", flush=True)
            procs.stop()
            pauses = daphne_gc_pauses([data_dir / f"{name}.log" for name, _p in procs.procs])
            for staged in outcome.get("stages", []):
                start, end = staged.pop("window")
                staged["gc_daphne"] = gc_summary(pauses, start, end)
                staged["gc_driver"] = gc_summary(DRIVER_GC, start, end)
            if "echo" in outcome:
                result.setdefault("components", {})["echo"] = outcome.pop("echo")
            result["configs"][config["name"]] = {**config, **outcome}
        result["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        result["load_average_end"] = load_average()
        print(json.dumps(result, indent=2))
        if args.json:
            args.json.write_text(json.dumps(result, indent=2) + "\n")
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        if floor is not None:
            floor.stop()
        for procs in procs_list:
            procs.stop()
        with contextlib.suppress(Exception):
            pg_admin(f'DROP DATABASE IF EXISTS "{args.pg_db}" WITH (FORCE)')
        for prefix in prefixes:
            with contextlib.suppress(Exception):
                redis_delete_prefix(args.redis_url, prefix)
        if args.keep:
            print(f"logs kept in {data_dir}", file=sys.stderr)
        else:
            import shutil

            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
