"""Chaos run (issue 9): several processes on PostgreSQL + Redis, one of them killed, nothing lost.

    python bench/chaos.py --duration 300 --clients 200 --agents 20      # the long form
    python bench/chaos.py --duration 40 --clients 20 --agents 6         # about what CI runs

The harness (`ChaosCluster`) creates a fresh PostgreSQL database and a fresh Redis key prefix, migrates,
creates the agents, one line and the agents' login sessions, then starts 2 ASGI processes
(`serve --web-only --no-demo`), `runtimers` and `qcluster` through bench/cluster.py. The line's deadlines
are shortened (below what its settings form offers) so that forwarding and auto-close fall inside the run.

The driver (`run_load`) plays many widget clients and agent workspaces, spread over both ASGI processes:
- a client writes a few messages (each with its own `client_id`), waits until its conversation closes by
  timeout, and starts a new one; unacknowledged messages stay in its outbox and are sent again after a
  reconnect, like the widget (static/livechat/widget.js);
- an agent answers what it is offered (except the first offer of every `--forward-every`-th conversation,
  which it ignores so that the no-answer forwarding fires), greets the client and replies to each client
  message over the workspace's HTTP API; its socket is the workspace's (static/openlines/agent.js);
- both reconnect with the pages' backoff to either ASGI process and resync as the pages do: the events
  after the last event id they saw, plus those below it they do not list in `have` (committed late), and
  again from the new cursor while the answer says `more` (`ResyncCursor`).

During the load it kills (SIGKILL, whole process group) one ASGI process, the task worker and the timer
process, and restarts them a few seconds later. At the end it waits for every conversation to close and
compares what each client and agent received with the database (`verify`): no message lost, none stored
twice, each auto-close and forwarding applied once, nothing due left unapplied. Raw duplicates (one message
id received twice, e.g. live and again by resync) are counted and reported; the pages drop them by id.
Exit status 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.cluster import (  # noqa: E402
    Processes,
    agents_and_line_create,
    free_port,
    login_session_keys,
    pg_admin,
    server_env,
    wait_http,
)

LINE_CODE = "chaos"
AUTO_CLOSE_TEXT = "chaos: closed by timeout"
RESYNC_MARGIN = 30.0  # seconds the pages add to the server's lookback when they choose `have`
RESYNC_HAVE_MAX = 1000  # openlines.resync


class ResyncCursor:
    """What static/openlines/agent.js and static/livechat/widget.js keep for a resync: the highest event id
    held (`since`) and the ids received with their local receive time; a resync lists those of the
    server's lookback window (relative to the cursor's event, plus a margin) as `have`. Like the pages it
    also resyncs every `resync_every` seconds (told in `hello`) while connected (`resync_periodically`);
    `caught_up_at` is when the newest answered request was sent: the page holds everything committed before.
    """

    def __init__(self) -> None:
        self.since = 0
        self.received: dict[int, float] = {}
        self.lookback = 60.0
        self.every = 30.0
        self.asked: deque[tuple[float, bool]] = deque()  # (sent at, periodic)
        self.caught_up_at = 0.0

    def seed(self, last_event_id: int, recent_event_ids: list[int]) -> None:
        """A page load: resume after the snapshot, holding the recent events it already reflects."""
        now = time.monotonic()
        self.since = last_event_id
        self.received = {event_id: now for event_id in [*recent_event_ids, last_event_id] if event_id}

    def note(self, event_id: Any) -> bool:
        """Record a received event; whether it is new to the page."""
        if not isinstance(event_id, int) or event_id in self.received:
            return False
        self.received[event_id] = time.monotonic()
        self.since = max(self.since, event_id)
        return True

    def request(self, *, periodic: bool = False) -> dict[str, Any]:
        newest = self.received.get(self.since, time.monotonic())
        start = newest - (self.lookback + RESYNC_MARGIN)
        for event_id in [i for i, at in self.received.items() if at < start]:
            del self.received[event_id]
        have = sorted(self.received, reverse=True)[:RESYNC_HAVE_MAX]
        self.asked.append((time.monotonic(), periodic))
        return {"type": "resync", "since": self.since, "have": have}

    def answered(self) -> bool:
        """A resync answer arrived (answers come in the order of the requests on one socket); whether it
        answers a periodic request."""
        if not self.asked:
            return False
        sent_at, periodic = self.asked.popleft()
        self.caught_up_at = max(self.caught_up_at, sent_at)
        return periodic

    def hello(self, message: dict[str, Any]) -> None:
        self.asked.clear()  # requests on the previous socket are never answered
        if isinstance(message.get("resync_lookback"), int):
            self.lookback = float(message["resync_lookback"])
        if isinstance(message.get("resync_every"), int):
            self.every = float(message["resync_every"])


def note_via(via: defaultdict[int, set[str]], events: list[dict[str, Any]], how: str) -> None:
    for event in events:
        if event.get("type") == "message.new":
            via[int(event["message"]["id"])].add(how)


async def resync_periodically(page: Widget | Agent) -> None:
    """The pages' periodic resync while connected: it brings pushes lost without the socket closing (the
    process that committed them died before pushing), which no reconnect announces."""
    while not page.run.finished:
        await asyncio.sleep(page.cursor.every * (1 + random.random() * 0.2))
        if page.ws is not None and page.cursor.since:
            await send_json(page.ws, page.cursor.request(periodic=True))


@dataclass
class ChaosConfig:
    database_url: str
    redis_url: str
    redis_prefix: str
    clients: int = 20
    agents: int = 6
    duration: float = 40.0  # seconds during which clients start conversations
    kill_at: float = 12.0  # seconds into the load
    down_for: float = 4.0  # seconds before the killed processes are restarted
    kill: tuple[str, ...] = ("web1", "qcluster", "runtimers")
    kill_every: float = 0.0  # > 0: a new round every so many seconds, the other web process each time
    queue_time: int = 4  # seconds before an unanswered offer is forwarded
    auto_close_time: int = 6  # seconds of silence after the agent's last answer before auto-close
    forward_every: int = 3  # the first offer of every n-th conversation is ignored
    messages_per_conversation: int = 3
    message_gap: float = 1.0
    drain_timeout: float = 45.0
    web_processes: int = 2
    keep_logs: bool = False

    @property
    def database_name(self) -> str:
        return urlsplit(self.database_url).path.lstrip("/")

    @property
    def admin_url(self) -> str:
        parts = urlsplit(self.database_url)
        return urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))


# --- the harness -------------------------------------------------------------------------------------


def setup_child(agents: int, queue_time: int, auto_close_time: int) -> None:
    """Runs with the servers' environment: migrate, create agents, the line and the login sessions."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
    import django

    django.setup()
    from django.conf import settings

    from openlines.models import OpenLine

    users, line = agents_and_line_create(
        agents=agents,
        username_prefix="chaos",
        line_values={"line_name": "Chaos", "code": LINE_CODE, "queue_time": 60},
    )
    # Deadlines shorter than the form's choices, so that they fall due inside a short run.
    OpenLine.objects.filter(pk=line.pk).update(
        queue_time=queue_time,
        auto_close_time=auto_close_time,
        auto_close_rule=OpenLine.Rule.TEXT,
        auto_close_text=AUTO_CLOSE_TEXT,
        full_close_time=0,
        vote_message=False,
        no_answer_rule=OpenLine.Rule.NONE,
    )
    line.refresh_from_db()
    keys = login_session_keys(users)
    texts = {key: line.client_text(key) for key in ("queue_forward", "session_closed")}
    print(
        json.dumps(
            {
                "session_keys": keys,
                "user_ids": [u.pk for u in users],
                "cookie": settings.SESSION_COOKIE_NAME,
                "texts": texts,
            }
        )
    )


class ChaosCluster:
    """A fresh database and Redis prefix, and the processes of a scaled deployment on loopback."""

    def __init__(self, config: ChaosConfig) -> None:
        self.config = config
        self.data_dir = Path(tempfile.mkdtemp(prefix="chaos-"))
        self.procs = Processes(self.data_dir)
        self.env = server_env(
            self.data_dir,
            DATABASE_URL=config.database_url,
            REDIS_URL=config.redis_url,
            REDIS_KEY_PREFIX=config.redis_prefix,
            # The pages resync every 2 s while connected (30 by default): the drain waits for one.
            RESYNC_INTERVAL="2",
        )
        self.ports = [free_port() for _ in range(config.web_processes)]
        self.setup: dict[str, Any] = {}

    def __enter__(self) -> ChaosCluster:
        try:
            self.create()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def create(self) -> None:
        name = self.config.database_name
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', self.config.admin_url)
        pg_admin(f'CREATE DATABASE "{name}"', self.config.admin_url)
        out = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--setup-child",
                "--agents",
                str(self.config.agents),
                "--queue-time",
                str(self.config.queue_time),
                "--auto-close-time",
                str(self.config.auto_close_time),
            ],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise RuntimeError(f"chaos setup failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
        self.setup = json.loads(out.stdout.strip().splitlines()[-1])
        for name in self.process_names():
            self.start(name)
        for port in self.ports:
            wait_http(f"http://127.0.0.1:{port}/healthz", self.procs)

    def process_names(self) -> list[str]:
        return [f"web{n}" for n in range(len(self.ports))] + ["runtimers", "qcluster"]

    def start(self, name: str) -> None:
        if name.startswith("web"):
            port = self.ports[int(name[3:])]
            args = ["serve", "--web-only", "--no-demo", "--port", str(port)]
        else:
            args = [name]
        self.procs.start(name, args, self.env)

    def kill(self, name: str) -> None:
        """SIGKILL the process and its children (qcluster's workers): no clean shutdown at all."""
        for entry in [e for e in self.procs.procs if e[0] == name]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(entry[1].pid, signal.SIGKILL)
            entry[1].wait()
            self.procs.procs.remove(entry)

    def wait_ready(self, name: str, timeout: float = 60) -> None:
        if name.startswith("web"):
            wait_http(f"http://127.0.0.1:{self.ports[int(name[3:])]}/healthz", self.procs, timeout)

    def destroy(self) -> None:
        self.procs.stop()
        with contextlib.suppress(Exception):
            pg_admin(
                f'DROP DATABASE IF EXISTS "{self.config.database_name}" WITH (FORCE)', self.config.admin_url
            )
        with contextlib.suppress(Exception):
            redis_delete_prefix(self.config.redis_url, self.config.redis_prefix)
        if self.config.keep_logs:
            print(f"chaos logs kept in {self.data_dir}", file=sys.stderr)
        else:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_tail(self, chars: int = 3000) -> str:
        parts = []
        for log in sorted(self.data_dir.glob("*.log")):
            text = log.read_text(errors="replace")
            if text.strip():
                parts.append(f"--- {log.name}\n{text[-chars:]}")
        return "\n".join(parts)


def redis_delete_prefix(url: str, prefix: str) -> None:
    """Only our keys: the Redis database is shared with the other test worker."""
    import redis

    client = redis.Redis.from_url(url)
    for pattern in (f"{prefix}*", f"*:{prefix}*", f"{prefix}-tasks*", f":*:{prefix}*"):
        keys = list(client.scan_iter(match=pattern, count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])


# --- the driver --------------------------------------------------------------------------------------


class Ambiguous(Exception):
    """The request may or may not have been applied: the connection broke after it was sent."""


@dataclass
class Run:
    config: ChaosConfig
    ports: list[int]
    started: float = field(default_factory=time.monotonic)
    wall_started: float = field(default_factory=time.time)
    stop_new: asyncio.Event = field(default_factory=asyncio.Event)
    finished: bool = False
    ignored_offer: dict[int, int] = field(default_factory=dict)  # session id -> agent that ignored it
    timeline: list[tuple[float, str]] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.timeline.append((round(time.monotonic() - self.started, 1), text))


def ws_url(port: int, path: str) -> str:
    return f"ws://127.0.0.1:{port}{path}"


async def send_json(ws: Any, payload: dict[str, Any]) -> None:
    """Send on the page's socket if it has one; a socket that just died is the reconnect loop's business."""
    import websockets

    if ws is None:
        return
    with contextlib.suppress(websockets.WebSocketException):
        await ws.send(json.dumps(payload))


def backoff(retries: int, base: float) -> float:
    return min(15.0, base * 2**retries) + random.random() * 0.5


class Widget:
    """One visitor with the widget's socket behaviour."""

    def __init__(self, index: int, run: Run) -> None:
        self.index = index
        self.run = run
        self.home = run.ports[index % len(run.ports)]
        self.token = ""
        self.cursor = ResyncCursor()
        self.pending: set[asyncio.Future[None]] = set()
        self.ws: Any = None
        self.outbox: dict[str, str] = {}  # client_id -> text, until acknowledged
        self.generated: dict[str, str] = {}
        self.acked: dict[str, int] = {}
        self.failed: dict[str, str] = {}
        self.raw: Counter[int] = Counter()
        self.visible: dict[int, dict[str, Any]] = {}
        self.closed_events: set[int] = set()
        self.closed = asyncio.Event()
        self.reconnects = 0
        self.resyncs = 0
        self.resync_paged = 0  # answers with `more` (capped): the page asks again from its new cursor
        # How each message arrived: "push", "resync" (after a connect) and/or "periodic" (resync).
        self.via: defaultdict[int, set[str]] = defaultdict(set)
        self.synced = False  # connected and the resync after the last (re)connect answered
        self.errors: list[str] = []

    async def open(self) -> None:
        import httpx

        ports = [self.home] + [p for p in self.run.ports if p != self.home]
        async with httpx.AsyncClient(timeout=30) as http:
            for attempt in range(20):
                port = ports[attempt % len(ports)]
                try:
                    response = await http.post(
                        f"http://127.0.0.1:{port}/livechat/{LINE_CODE}/session/", json={}
                    )
                except httpx.TransportError:
                    await asyncio.sleep(0.5)
                    continue
                response.raise_for_status()
                data = response.json()
                self.token = data["token"]
                state = data["state"]
                self.cursor.seed(state.get("last_event_id") or 0, state.get("recent_event_ids") or [])
                return
        raise RuntimeError("widget could not open a session")

    async def connection(self) -> None:
        import websockets

        retries = 0
        port = self.home
        while not self.run.finished:
            try:
                async with websockets.connect(
                    ws_url(port, f"/ws/livechat/{LINE_CODE}/?token={self.token}"),
                    max_queue=None,
                    open_timeout=10,
                ) as ws:
                    hello = json.loads(await ws.recv())
                    if hello.get("type") != "hello":
                        raise RuntimeError(f"widget socket refused: {hello}")
                    retries = 0
                    self.ws = ws
                    self.synced = False
                    self.cursor.hello(hello)
                    await ws.send(json.dumps(self.cursor.request()))
                    await self.flush()
                    async for raw in ws:
                        self.on_message(json.loads(raw))
            except (OSError, TimeoutError, websockets.WebSocketException):
                pass
            self.ws = None
            self.synced = False
            if self.run.finished:
                return
            self.reconnects += 1
            await asyncio.sleep(backoff(retries, 1.0))
            retries += 1
            port = random.choice(self.run.ports)  # the load balancer picks any live process

    async def send(self, payload: dict[str, Any]) -> None:
        await send_json(self.ws, payload)

    async def flush(self) -> None:
        for client_id, text in list(self.outbox.items()):
            await self.send(self._message(client_id, text))

    def _message(self, client_id: str, text: str) -> dict[str, Any]:
        return {"type": "message", "client_id": client_id, "text": text, "since": self.cursor.since}

    async def write(self) -> None:
        client_id = uuid.uuid4().hex
        text = f"c{self.index}:{client_id}"
        self.generated[client_id] = text
        self.outbox[client_id] = text
        await self.send(self._message(client_id, text))

    def on_message(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "ack":
            client_id = str(msg.get("client_id"))
            if self.outbox.pop(client_id, None) is not None or client_id in self.generated:
                self.acked[client_id] = int(msg["message_id"])
        elif kind == "error":
            failed_id = msg.get("client_id")
            if msg.get("code") == "rate_limited":
                asyncio.get_running_loop().call_later(5, lambda: asyncio.ensure_future(self.flush()))
            elif isinstance(failed_id, str) and failed_id in self.outbox:
                # Shown to the visitor as not sent (the widget marks the bubble failed).
                self.failed[failed_id] = json.dumps(msg.get("errors"))[:200]
                self.outbox.pop(failed_id, None)
            else:
                self.errors.append(json.dumps(msg)[:300])
        elif kind == "resync":
            self.resyncs += 1
            periodic = self.cursor.answered()
            fresh = sum([self.on_event(event) for event in msg.get("events") or []])
            note_via(self.via, msg.get("events") or [], "periodic" if periodic else "resync")
            if msg.get("more") and fresh:
                # Capped: ask again from the new cursor, as the widget does.
                self.resync_paged += 1
                task = asyncio.ensure_future(self.send(self.cursor.request()))
                self.pending.add(task)
                task.add_done_callback(self.pending.discard)
            else:
                self.synced = self.ws is not None
        elif kind not in ("hello", "pong", "consent.ok", "form.ok"):
            note_via(self.via, [msg], "push")
            self.on_event(msg)

    def on_event(self, event: dict[str, Any]) -> bool:
        """Apply one event; whether its id was new to the page."""
        event_id = event.get("id")
        fresh = self.cursor.note(event_id)
        if event.get("type") == "message.new":
            message = event["message"]
            self.raw[int(message["id"])] += 1
            self.visible[int(message["id"])] = message
        elif event.get("type") == "session.closed" and isinstance(event_id, int):
            if event_id not in self.closed_events:
                self.closed_events.add(event_id)
                self.closed.set()
        return fresh

    async def conversations(self) -> None:
        cfg = self.run.config
        await asyncio.sleep(random.random() * 2)
        while not self.run.stop_new.is_set():
            self.closed.clear()
            for _ in range(cfg.messages_per_conversation):
                await self.write()
                await asyncio.sleep(cfg.message_gap * (0.5 + random.random()))
            # Silent now: the conversation closes by timeout; then a new one.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self.closed.wait(), timeout=cfg.queue_time * 4 + cfg.auto_close_time + 20
                )
            await asyncio.sleep(random.random())


class Agent:
    """One agent's workspace: its socket and its HTTP calls (through a 'load balancer')."""

    def __init__(self, index: int, user_id: int, cookie: str, run: Run) -> None:
        self.index = index
        self.user_id = user_id
        self.run = run
        self.home = run.ports[index % len(run.ports)]
        self.csrf = secrets.token_hex(16)
        self.cookie = f"{cookie}; csrftoken={self.csrf}"
        self.cursor = ResyncCursor()
        self.handled: set[int] = set()
        self.raw: Counter[int] = Counter()
        self.received: dict[int, set[int]] = defaultdict(set)  # session id -> message ids
        self.answered: set[int] = set()
        self.busy: set[int] = set()
        self.replied_to: set[int] = set()
        self.sent: dict[str, str] = {}  # text -> acked | confirmed | failed
        self.reconnects = 0
        self.resyncs = 0
        self.resync_paged = 0
        self.via: defaultdict[int, set[str]] = defaultdict(set)
        self.synced = False
        self.http_errors: list[str] = []
        self.sockets: list[tuple[float, int]] = []  # (connected at, port), run time
        self.tasks: set[asyncio.Task[Any]] = set()
        self.http: Any = None
        self.ws: Any = None

    def spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One API call; another process when this one refuses the connection (as a load balancer does)."""
        import httpx

        ports = [self.home] + [p for p in self.run.ports if p != self.home]
        random.shuffle(ports[1:])
        last: Exception | None = None
        for port in ports:
            origin = f"http://127.0.0.1:{port}"
            headers = {
                "Cookie": self.cookie,
                "X-CSRFToken": self.csrf,
                "Origin": origin,
                "Referer": origin + "/",
            }
            try:
                response = await self.http.request(method, origin + path, json=body, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                last = error
                continue
            except httpx.TransportError as error:
                raise Ambiguous(repr(error)) from error
            return response
        raise Ambiguous(f"no process answered: {last!r}")

    async def connection(self) -> None:
        import websockets

        retries = 0
        port = self.home
        while not self.run.finished:
            origin = f"http://127.0.0.1:{port}"
            try:
                async with websockets.connect(
                    ws_url(port, "/ws/staff/"),
                    additional_headers={"Cookie": self.cookie, "Origin": origin},
                    max_queue=None,
                    open_timeout=10,
                ) as ws:
                    hello = json.loads(await ws.recv())
                    if hello.get("type") != "hello":
                        raise RuntimeError(f"agent socket refused: {hello}")
                    retries = 0
                    self.ws = ws
                    self.sockets.append((time.monotonic() - self.run.started, port))
                    self.cursor.hello(hello)
                    if self.cursor.since:
                        await ws.send(json.dumps(self.cursor.request()))
                    else:
                        self.synced = True
                    self.spawn(self.load_list())
                    async for raw in ws:
                        self.on_message(json.loads(raw))
            except (OSError, TimeoutError, websockets.WebSocketException):
                pass
            self.ws = None
            self.synced = False
            if self.run.finished:
                return
            self.reconnects += 1
            await asyncio.sleep(backoff(retries, 0.5))
            retries += 1
            port = random.choice(self.run.ports)

    def socket_at(self, at: float) -> tuple[float, int] | None:
        """The socket the page had open at `at` (run time): when it connected and to which port."""
        before = [entry for entry in self.sockets if entry[0] <= at]
        return before[-1] if before else None

    async def start(self) -> None:
        import httpx

        self.http = httpx.AsyncClient(timeout=30)
        for _ in range(20):
            try:
                response = await self.call("GET", "/agent/api/sessions/")
                response.raise_for_status()
                data = response.json()
                # The workspace's snapshot: the events it reflects count as handled and held.
                self.cursor.seed(data["last_event_id"], data.get("recent_event_ids") or [])
                self.handled.update(data.get("recent_event_ids") or [])
                return
            except Ambiguous:
                await asyncio.sleep(0.5)
        raise RuntimeError("agent could not load its workspace")

    async def load_list(self) -> None:
        """What the workspace does after (re)connecting: reload its list, where missed offers show."""
        try:
            response = await self.call("GET", "/agent/api/sessions/")
        except Ambiguous:
            return
        if response.status_code != 200:
            return
        for row in response.json()["sessions"]:
            if row.get("group") == "offered":
                self.spawn(self.consider_offer(int(row["id"])))

    def on_message(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "resync":
            self.resyncs += 1
            periodic = self.cursor.answered()
            fresh = sum([self.on_event(event) for event in msg.get("events") or []])
            note_via(self.via, msg.get("events") or [], "periodic" if periodic else "resync")
            if msg.get("more") and fresh and self.ws is not None:
                # Capped: ask again from the new cursor, as the workspace does.
                self.resync_paged += 1
                self.spawn(self.send(self.cursor.request()))
            else:
                self.synced = True
        elif kind not in ("hello", "heartbeat.ack", "watching", "unwatched", "error"):
            note_via(self.via, [msg], "push")
            self.on_event(msg)

    def on_event(self, event: dict[str, Any]) -> bool:
        """Handle one event (dropped by id when handled already, as the workspace does); whether new."""
        if event.get("type") == "message.new":
            self.raw[int(event["message"]["id"])] += 1
        event_id = event.get("id")
        if isinstance(event_id, int):
            if event_id in self.handled:
                return False
            self.handled.add(event_id)
            self.cursor.note(event_id)
        kind = event.get("type")
        session_id = event.get("session_id")
        if not isinstance(session_id, int):
            return True
        if kind == "offer.new":
            self.spawn(self.consider_offer(session_id))
        elif kind == "message.new":
            message = event["message"]
            self.received[session_id].add(int(message["id"]))
            if (
                message.get("author_type") == "client"
                and session_id in self.answered
                and message["id"] not in self.replied_to
            ):
                self.replied_to.add(message["id"])
                self.spawn(self.reply(session_id, f"re {message['text']}"))
        elif kind == "session.lost" and session_id in self.answered:
            # A resync can bring an old "lost" after a newer answer: ask, as the workspace reloads.
            self.spawn(self.recheck(session_id))
        return True

    async def send(self, payload: dict[str, Any]) -> None:
        await send_json(self.ws, payload)

    async def consider_offer(self, session_id: int) -> None:
        if session_id in self.answered or session_id in self.busy or self.run.finished:
            return
        if session_id % self.run.config.forward_every == 0:
            first = self.run.ignored_offer.setdefault(session_id, self.user_id)
            if first == self.user_id:
                return  # this agent lets the offer run out: the queue forwards it
        self.busy.add(session_id)
        try:
            for _attempt in range(10):
                try:
                    response = await self.call("POST", f"/agent/api/sessions/{session_id}/answer/", {})
                except Ambiguous:
                    await asyncio.sleep(1)
                    continue
                if response.status_code >= 500:
                    self.http_errors.append(f"answer {response.status_code}")
                elif response.status_code != 200 and not await self.holds(session_id):
                    return  # forwarded to someone else or closed meanwhile
                # Answered now, or by an earlier attempt whose response was lost with its process.
                self.answered.add(session_id)
                await self.reply(session_id, f"hello from agent {self.index} {uuid.uuid4().hex}")
                return
        finally:
            self.busy.discard(session_id)

    async def recheck(self, session_id: int) -> None:
        if not await self.holds(session_id):
            self.answered.discard(session_id)

    async def holds(self, session_id: int) -> bool:
        """What the workspace shows after a refused answer: is the conversation mine after all?"""
        try:
            response = await self.call("GET", f"/agent/api/sessions/{session_id}/")
        except Ambiguous:
            return False
        return response.status_code == 200 and response.json().get("relation") == "operator"

    async def reply(self, session_id: int, text: str) -> None:
        """Send, and after a broken connection look whether it was stored before sending it again (what an
        agent does when the page says the send failed); so each text is stored once."""
        text = f"{text} #{uuid.uuid4().hex[:8]}"
        for _attempt in range(10):
            try:
                response = await self.call(
                    "POST", f"/agent/api/sessions/{session_id}/messages/", {"text": text}
                )
            except Ambiguous:
                self.sent[text] = "failed"
                await asyncio.sleep(1)
                if await self.stored(session_id, text):
                    self.sent[text] = "confirmed"
                    return
                continue
            if response.status_code == 201:
                self.sent[text] = "acked"
            elif response.status_code >= 500:
                self.http_errors.append(f"message {response.status_code}")
                self.sent[text] = "failed"
                continue
            else:
                self.sent.setdefault(text, f"refused {response.status_code}")
            return

    async def stored(self, session_id: int, text: str) -> bool:
        for _ in range(10):
            try:
                response = await self.call("GET", f"/agent/api/sessions/{session_id}/messages/")
            except Ambiguous:
                await asyncio.sleep(1)
                continue
            if response.status_code != 200:
                return False
            return any(m.get("text") == text for m in response.json().get("messages", []))
        return False


async def run_load(cluster: ChaosCluster) -> dict[str, Any]:
    """Drive the load with the chaos in the middle; then wait for every conversation to close."""
    cfg = cluster.config
    run = Run(config=cfg, ports=cluster.ports)
    setup = cluster.setup
    agents = [
        Agent(n, user_id, f"{setup['cookie']}={key}", run)
        for n, (user_id, key) in enumerate(zip(setup["user_ids"], setup["session_keys"], strict=True))
    ]
    for agent in agents:
        await agent.start()
    agent_tasks = [asyncio.ensure_future(a.connection()) for a in agents]
    agent_tasks += [asyncio.ensure_future(resync_periodically(a)) for a in agents]
    widgets = [Widget(n, run) for n in range(cfg.clients)]
    await asyncio.gather(*(w.open() for w in widgets))
    widget_tasks = [asyncio.ensure_future(w.connection()) for w in widgets]
    widget_tasks += [asyncio.ensure_future(resync_periodically(w)) for w in widgets]
    await asyncio.sleep(1)  # sockets open
    run.started, run.wall_started = time.monotonic(), time.time()
    run.note("load starts")
    talk = [asyncio.ensure_future(w.conversations()) for w in widgets]

    async def chaos() -> None:
        at = cfg.kill_at
        webs = [f"web{n}" for n in range(len(cluster.ports))]
        for round_ in itertools.count():
            await asyncio.sleep(max(0.0, run.started + at - time.monotonic()))
            victims = list(cfg.kill)
            if round_:  # the other web process each round
                victims = [webs[(webs.index(v) + round_) % len(webs)] if v in webs else v for v in victims]
            for name in victims:
                cluster.kill(name)
            run.note(f"killed {', '.join(victims)} (SIGKILL, process group)")
            await asyncio.sleep(cfg.down_for)
            for name in victims:
                cluster.start(name)
            run.note("restarted")
            for name in victims:
                await asyncio.to_thread(cluster.wait_ready, name)
            run.note("restarted processes ready")
            at += cfg.kill_every
            if cfg.kill_every <= 0 or at + cfg.down_for + 5 > cfg.duration:
                return

    chaos_task = asyncio.ensure_future(chaos())
    await asyncio.sleep(cfg.duration)
    run.stop_new.set()
    run.note("no new conversations")
    await chaos_task
    await asyncio.gather(*talk)
    # Drain: outboxes empty, every conversation closed by its timeout, agents' sends finished.
    drain_started = time.monotonic()
    deadline = drain_started + cfg.drain_timeout
    while time.monotonic() < deadline:
        cluster.procs.check_alive()
        pending = sum(len(w.outbox) for w in widgets) + sum(len(a.tasks) for a in agents)
        # Every page connected again and caught up, as a page left open would be: its resync after the
        # reconnect answered, and a periodic one asked after the kills (a push lost with its process).
        pages: list[Widget | Agent] = [*widgets, *agents]
        pending += sum(not p.synced or p.cursor.caught_up_at < drain_started for p in pages)
        if not pending and not await asyncio.to_thread(open_sessions, cfg.database_url):
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(1.5)  # the last pushes
    run.note("drained")
    run.finished = True
    for task in [*agent_tasks, *widget_tasks]:
        task.cancel()
    for agent in agents:
        for task in list(agent.tasks):
            task.cancel()
        await agent.http.aclose()
    await asyncio.gather(*agent_tasks, *widget_tasks, return_exceptions=True)
    return await asyncio.to_thread(verify, cluster, run, widgets, agents)


def open_sessions(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM openlines_session WHERE NOT closed").fetchone()
        return int(row[0]) if row else 0


def open_session_detail(database_url: str, session_id: int) -> str:
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT status, operator_id, wait_answer, wait_action, undistributed, queue_history"
            " FROM openlines_session WHERE id = %s",
            (session_id,),
        ).fetchone()
        deadlines = conn.execute(
            "SELECT kind, due_at - now() FROM openlines_sessiondeadline WHERE session_id = %s", (session_id,)
        ).fetchall()
        offers = conn.execute(
            "SELECT user_id FROM openlines_sessionoffer WHERE session_id = %s", (session_id,)
        ).fetchall()
        authors = conn.execute(
            "SELECT author_type, internal, count(*) FROM openlines_message WHERE session_id = %s"
            " GROUP BY 1, 2",
            (session_id,),
        ).fetchall()
    return f"state={row} deadlines={deadlines} offers={offers} messages={authors}"


def _startswith_template(text: str, template: str) -> bool:
    return text.startswith(template.split("#", 1)[0])


def verify(cluster: ChaosCluster, run: Run, widgets: list[Widget], agents: list[Agent]) -> dict[str, Any]:
    """Compare what every client and agent received and sent with the database."""
    import psycopg

    cfg = cluster.config
    texts = cluster.setup["texts"]
    with psycopg.connect(cfg.database_url) as conn:
        messages = conn.execute(
            "SELECT id, chat_id, session_id, author_type, author_id, text, internal FROM openlines_message"
        ).fetchall()
        events = conn.execute(
            "SELECT id, session_id, user_id, type, payload->'message'->>'id', extract(epoch FROM created_at)"
            " FROM openlines_realtimeevent WHERE type IN ('message.new', 'offer.new', 'session.closed')"
        ).fetchall()
        sessions = conn.execute("SELECT id, chat_id, operator_id, closed FROM openlines_session").fetchall()
        transfers = conn.execute(
            "SELECT session_id, extract(epoch FROM created_at) FROM openlines_transfer"
            " WHERE mode = 'auto' AND reason = 'queue_time' ORDER BY session_id, created_at"
        ).fetchall()
        overdue = conn.execute(
            "SELECT count(*) FROM openlines_sessiondeadline WHERE due_at < now() - interval '3 seconds'"
        ).fetchone()
    problems: list[str] = []
    by_text: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in messages:
        by_text[row[5]].append(row)

    # Widgets: each message sent once in the database, acknowledged or reported; all of the chat received.
    client_stats: Counter[str] = Counter()
    for w in widgets:
        chats = set()
        for client_id, text in w.generated.items():
            stored = by_text.get(text, [])
            client_stats["sent"] += 1
            if len(stored) > 1:
                problems.append(f"client {w.index}: message {client_id} stored {len(stored)} times")
            if stored:
                chats.add(stored[0][1])
                if client_id not in w.acked:
                    client_stats["stored_not_acked"] += 1
            if client_id in w.acked:
                client_stats["acked"] += 1
                if not stored:
                    problems.append(f"client {w.index}: message {client_id} acknowledged but not stored")
            elif client_id in w.failed:
                client_stats["reported_not_sent"] += 1
            elif not stored:
                problems.append(f"client {w.index}: message {client_id} silently lost (no ack, no error)")
        if len(chats) > 1:
            problems.append(f"client {w.index}: messages in {len(chats)} chats")
        expected = {row[0] for row in messages if row[1] in chats and not row[6]}
        missing = expected - set(w.visible)
        client_stats["expected"] += len(expected)
        client_stats["received"] += len(expected & set(w.visible))
        client_stats["raw_duplicates"] += sum(n - 1 for n in w.raw.values())
        client_stats["reconnects"] += w.reconnects
        client_stats["resyncs"] += w.resyncs
        client_stats["resync_paged"] += w.resync_paged
        # Without the periodic resync these would have stayed missing (or arrived only after a reconnect).
        client_stats["only_by_periodic_resync"] += sum(w.via[mid] == {"periodic"} for mid in expected)
        if missing:
            problems.append(
                f"client {w.index}: {len(missing)} messages never received, e.g. {sorted(missing)[:5]}"
            )
        if w.errors:
            problems.append(f"client {w.index}: unexpected errors {w.errors[:3]}")

    # Agents: each message of a conversation they hold, from the moment it was offered to them.
    offers: dict[tuple[int, int], int] = {}
    session_events: dict[int, list[tuple[int, int]]] = defaultdict(list)
    closed_events: Counter[int] = Counter()
    created = {
        int(row[4]): float(row[5]) - run.wall_started for row in events if row[3] == "message.new" and row[4]
    }
    authors = {row[0]: row[3] for row in messages}
    for event_id, session_id, user_id, kind, message_id, _created in events:
        if kind == "offer.new" and user_id is not None:
            offers[(session_id, user_id)] = max(offers.get((session_id, user_id), 0), event_id)
        elif kind == "message.new" and user_id is None and message_id is not None:
            session_events[session_id].append((event_id, int(message_id)))
        elif kind == "session.closed" and user_id is None:
            closed_events[session_id] += 1
    by_user = {a.user_id: a for a in agents}
    agent_stats: Counter[str] = Counter()
    late_examples: list[str] = []
    for session_id, _chat_id, operator_id, _closed in sessions:
        agent = by_user.get(operator_id)
        if agent is None or session_id not in agent.answered | set(agent.received):
            continue
        since = offers.get((session_id, operator_id), 0)
        expected = {mid for eid, mid in session_events[session_id] if eid > since}
        got = agent.received.get(session_id, set())
        agent_stats["expected"] += len(expected)
        agent_stats["received"] += len(expected & got)
        only_periodic = sorted(mid for mid in expected if agent.via[mid] == {"periodic"})
        agent_stats["only_by_periodic_resync"] += len(only_periodic)
        late_examples.extend(
            f"agent {agent.index} session {session_id} message {mid} ({authors.get(mid)})"
            f" at {created.get(mid, 0):.1f} s, socket (since, port) {agent.socket_at(created.get(mid, 0))}"
            for mid in only_periodic[:2]
        )
        if expected - got:
            problems.append(
                f"agent {agent.index}: session {session_id}: {len(expected - got)} messages never received,"
                f" e.g. {sorted(expected - got)[:5]}"
                # When and from whom, to set against the timeline (a push lost with a killed process?).
                + "".join(
                    f"\n  message {mid}: {authors.get(mid)} at {created.get(mid, 0):.1f} s"
                    for mid in sorted(expected - got)[:5]
                )
                + f"\n  agent home port {agent.home}, reconnects {agent.reconnects}; timeline {run.timeline}"
            )
    for agent in agents:
        agent_stats["raw_duplicates"] += sum(n - 1 for n in agent.raw.values())
        agent_stats["reconnects"] += agent.reconnects
        agent_stats["resyncs"] += agent.resyncs
        agent_stats["resync_paged"] += agent.resync_paged
        for text, status in agent.sent.items():
            stored = [row for row in by_text.get(text, []) if row[3] == "agent"]
            agent_stats["sent"] += 1
            agent_stats[status.split()[0]] += 1
            if len(stored) > 1:
                problems.append(f"agent {agent.index}: reply stored {len(stored)} times: {text!r}")
            if status in ("acked", "confirmed") and not stored:
                problems.append(f"agent {agent.index}: reply acknowledged but not stored: {text!r}")
            if status == "failed" and stored:
                agent_stats["failed_but_stored"] += 1
        if agent.http_errors:
            problems.append(f"agent {agent.index}: server errors {agent.http_errors[:5]}")

    # Deadlines: nothing due left, each auto-close and forwarding applied once.
    open_left = [s[0] for s in sessions if not s[3]]
    if open_left:
        problems.append(f"{len(open_left)} conversations still open after the drain, e.g. {open_left[:5]}")
        for session_id in open_left[:5]:
            problems.append(f"  session {session_id}: {open_session_detail(cfg.database_url, session_id)}")
            for agent in agents:
                if session_id in agent.answered | agent.busy | set(agent.received):
                    seen = sorted(agent.received.get(session_id, []))
                    problems.append(
                        f"  agent {agent.index} (user {agent.user_id}):"
                        f" answered={session_id in agent.answered} busy={session_id in agent.busy}"
                        f" received={seen}"
                    )
    overdue_count = int(overdue[0]) if overdue else 0
    if overdue_count:
        problems.append(f"{overdue_count} deadlines overdue and not applied")
    auto_close = Counter(row[2] for row in messages if row[5] == AUTO_CLOSE_TEXT)
    closed_note = Counter(
        row[2] for row in messages if row[6] and row[3] == "system" and row[5] == texts["session_closed"]
    )
    forward_notes = Counter(
        row[2]
        for row in messages
        if row[6] and row[3] == "system" and _startswith_template(row[5], texts["queue_forward"])
    )
    for session_id, _chat_id, _operator_id, closed in sessions:
        if closed and (auto_close[session_id], closed_note[session_id], closed_events[session_id]) != (
            1,
            1,
            1,
        ):
            problems.append(
                f"session {session_id}: closed with {auto_close[session_id]} timeout texts,"
                f" {closed_note[session_id]} close notes, {closed_events[session_id]} close events"
                " (want 1 each)"
            )
    forwards: dict[int, list[float]] = defaultdict(list)
    all_gaps: list[float] = []
    for session_id, at in transfers:
        forwards[session_id].append(float(at))
    for session_id, times in forwards.items():
        if len(times) != forward_notes[session_id]:
            problems.append(
                f"session {session_id}: {len(times)} forwards but {forward_notes[session_id]} notes"
            )
        gaps = [b - a for a, b in itertools.pairwise(times)]
        all_gaps += gaps
        # One deadline applied twice shows as two forwards within one tick or so. A later deadline can
        # come due sooner than the queue time after the previous forward by real clock: the transition
        # is dated with the tick's start, so an offer made late in a long tick (a backlog after the timer
        # process restarted) expires early by that lag; counted apart (`forwards_early`).
        if any(gap < cfg.queue_time / 2 for gap in gaps):
            problems.append(f"session {session_id}: forwarded twice within half the queue time ({gaps})")
    ignored_unforwarded = [s for s in run.ignored_offer if not forwards.get(s)]
    if ignored_unforwarded:
        problems.append(f"offers left to run out but never forwarded: {ignored_unforwarded[:5]}")
    return {
        "ok": not problems,
        "problems": problems[:50],
        "problem_count": len(problems),
        "clients": dict(client_stats),
        "agents": dict(agent_stats),
        "only_by_periodic_resync_examples": late_examples[:20],
        "conversations": len(sessions),
        "auto_closed": sum(1 for s in sessions if s[3] and auto_close[s[0]] == 1),
        "forwards": sum(len(t) for t in forwards.values()),
        "offers_ignored": len(run.ignored_offer),
        "sessions_forwarded_more_than_once": sum(1 for t in forwards.values() if len(t) > 1),
        "forwards_early": sum(1 for gap in all_gaps if gap < cfg.queue_time * 0.9),
        "forward_gap_min_s": round(min(all_gaps), 2) if all_gaps else None,
        "overdue_deadlines": overdue_count,
        "timeline": run.timeline,
    }


def run_chaos(config: ChaosConfig) -> dict[str, Any]:
    """Build the cluster, run the load with the chaos, verify, tear everything down."""
    with ChaosCluster(config) as cluster:
        started = time.monotonic()
        try:
            result = asyncio.run(run_load(cluster))
        except BaseException:
            print(cluster.log_tail(), file=sys.stderr)
            raise
        result["seconds"] = round(time.monotonic() - started, 1)
        if not result["ok"]:
            result["logs"] = cluster.log_tail(1500)
        return result


# --- command line ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/h_chaos_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5")
    parser.add_argument("--redis-prefix", default="")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--agents", type=int, default=6)
    parser.add_argument("--duration", type=float, default=40, help="seconds of load (new conversations)")
    parser.add_argument("--kill-at", type=float, default=None, help="seconds into the load (default: 1/3)")
    parser.add_argument("--down-for", type=float, default=4)
    parser.add_argument("--kill-every", type=float, default=0, help="repeat the kills (other web process)")
    parser.add_argument("--queue-time", type=int, default=4)
    parser.add_argument("--auto-close-time", type=int, default=6)
    parser.add_argument("--message-gap", type=float, default=1.0)
    parser.add_argument("--messages-per-conversation", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the servers' logs")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--setup-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup_child:
        setup_child(args.agents, args.queue_time, args.auto_close_time)
        return
    if "bench" not in urlsplit(args.database_url).path:
        sys.exit("the database is dropped and created again: its name must contain 'bench'")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    config = ChaosConfig(
        database_url=args.database_url,
        redis_url=args.redis_url,
        redis_prefix=args.redis_prefix or f"chaos{secrets.token_hex(3)}",
        clients=args.clients,
        agents=args.agents,
        duration=args.duration,
        kill_at=args.kill_at if args.kill_at is not None else args.duration / 3,
        down_for=args.down_for,
        kill_every=args.kill_every,
        queue_time=args.queue_time,
        auto_close_time=args.auto_close_time,
        message_gap=args.message_gap,
        messages_per_conversation=args.messages_per_conversation,
        keep_logs=args.keep,
    )
    result = run_chaos(config)
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    result["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(json.dumps({k: v for k, v in result.items() if k != "logs"}, indent=2))
    if not result["ok"]:
        print(result.get("logs", ""), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
