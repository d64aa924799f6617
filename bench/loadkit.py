"""Shared plumbing of the capacity benchmarks (bench/idle_sockets.py, bench/conversations.py) and of
tests/scale: build a bench database with staff agents and a live chat line, start the real servers,
read their memory, talk to them as a widget visitor and as an agent (staff socket + workspace JSON API).

Importable as `loadkit` from a script in bench/ and as `bench.loadkit` from the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # a script in bench/ or the tests (bench is a package there)
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
except ImportError:  # pragma: no cover - depends on how the module is reached
    from bench.cluster import (
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
LINE_CODE = "load"
BENCH_REDIS_URL = "redis://127.0.0.1:6379/11"


def raise_nofile() -> int:
    """Lift the soft open-files limit to the hard one (inherited by the servers this process starts)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- memory ------------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                text = Path(f"/proc/{pid}/task/{task}/children").read_text()
                found += [int(x) for x in text.split()]
    return found


def tree_pids(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


def rss_kib(pid: int) -> int:
    """VmRSS of one process in KiB (0 if it is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tree_rss_kib(pid: int) -> int:
    """VmRSS of a process and all its descendants, in KiB."""
    return sum(rss_kib(p) for p in tree_pids(pid))


# --- the bench deployment ----------------------------------------------------------------------------


def setup_child(agents: int) -> None:
    """Run in a child with the servers' environment: migrate, create `agents` staff agents in the queue of
    one live chat line (evenly, no chat limit, availability not checked, ratings on), their login sessions
    and a CSRF secret; print them as JSON."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
    import django

    django.setup()
    from django.conf import settings

    users, _line = agents_and_line_create(
        agents=agents,
        username_prefix="agent",
        line_values={"line_name": "Load", "code": LINE_CODE, "queue_time": 1800, "vote_message": True},
    )
    keys = login_session_keys(users)
    print(
        json.dumps(
            {
                "session_keys": keys,
                "user_ids": [u.pk for u in users],
                "cookie": settings.SESSION_COOKIE_NAME,
                "csrf_cookie": settings.CSRF_COOKIE_NAME,
            }
        )
    )


@dataclass
class Deployment:
    mode: str  # "embedded" | "scaled"
    data_dir: Path
    procs: Processes
    ports: list[int]
    setup: dict[str, Any]
    env: dict[str, str]
    pg_db: str = ""
    redis_url: str = ""

    @property
    def web(self) -> list[Any]:
        return [p for name, p in self.procs.procs if name.startswith("web")]

    def rss(self) -> dict[str, int]:
        """KiB per started process (with its children)."""
        return {name: tree_rss_kib(p.pid) for name, p in self.procs.procs}

    def log_text(self) -> str:
        return "\n".join(
            (self.data_dir / f"{name}.log").read_text(errors="replace") for name, _p in self.procs.procs
        )


def deploy(
    *,
    mode: str,
    agents: int,
    web_processes: int = 2,
    pg_db: str = "",
    redis_url: str = BENCH_REDIS_URL,
    extra_env: dict[str, str] | None = None,
) -> Deployment:
    """Fresh database, agents and line; start embedded = one `serve`, scaled = `web_processes` x
    `serve --web-only` + `runtimers` + `qcluster`. Call `teardown` in a finally block."""
    # BENCH_PG_DB: a database of the run's own when several checkouts share the PostgreSQL server.
    pg_db = pg_db or os.environ.get("BENCH_PG_DB", "h_load_bench")
    if mode == "scaled" and "bench" not in pg_db:
        raise SystemExit(f"refusing database {pg_db!r}: its name must contain 'bench' (it is dropped)")
    raise_nofile()
    data_dir = Path(tempfile.mkdtemp(prefix=f"load-{mode}-"))
    procs = Processes(data_dir)
    env = server_env(data_dir, **(extra_env or {}))
    if mode == "scaled":
        env.update(
            DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{pg_db}",
            REDIS_URL=redis_url,
            REDIS_KEY_PREFIX=f"loadbench{secrets.token_hex(3)}",
        )
        pg_admin(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')
        pg_admin(f'CREATE DATABASE "{pg_db}"')
        redis_flush(redis_url)
    dep = Deployment(mode, data_dir, procs, [], {}, env, pg_db if mode == "scaled" else "", redis_url)
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--setup-child", str(agents)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        teardown(dep, keep=True)
        raise SystemExit(f"setup failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
    dep.setup = json.loads(out.stdout.strip().splitlines()[-1])
    count = web_processes if mode == "scaled" else 1
    dep.ports = [free_port() for _ in range(count)]
    for n, port in enumerate(dep.ports):
        serve = ["serve", "--no-demo", "--port", str(port)] + (["--web-only"] if mode == "scaled" else [])
        procs.start(f"web{n}", serve, env)
    if mode == "scaled":
        procs.start("runtimers", ["runtimers"], env)
        procs.start("qcluster", ["qcluster"], env)
    for port in dep.ports:
        wait_http(f"http://127.0.0.1:{port}/healthz", procs)
    return dep


def teardown(dep: Deployment, *, keep: bool = False) -> None:
    dep.procs.stop()
    if dep.pg_db:
        with contextlib.suppress(Exception):
            pg_admin(f'DROP DATABASE IF EXISTS "{dep.pg_db}" WITH (FORCE)')
        with contextlib.suppress(Exception):
            redis_flush(dep.redis_url)
    if keep:
        print(f"logs kept in {dep.data_dir}", file=sys.stderr)
    else:
        shutil.rmtree(dep.data_dir, ignore_errors=True)


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


# --- talking to the servers --------------------------------------------------------------------------


LOCKED = "database is locked"


@dataclass
class Counters:
    error_frames: list[str] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)
    connect_retries: int = 0

    def locked(self) -> int:
        return sum(LOCKED in e for e in self.error_frames + self.http_errors)


class Widget:
    """One visitor: a token from `POST /livechat/<code>/session/`, then the widget socket."""

    def __init__(self, base: str, counters: Counters) -> None:
        self.base = base  # http://127.0.0.1:port
        self.counters = counters
        self.ws: Any = None
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader: asyncio.Task[None] | None = None

    async def open(self, http: Any, *, attempts: int = 3, read: bool = True) -> None:
        import websockets

        response = await http.post(f"{self.base}/livechat/{LINE_CODE}/session/", json={})
        if response.status_code != 200:
            self.counters.http_errors.append(f"session {response.status_code} {response.text[:200]}")
            response.raise_for_status()
        token = response.json()["token"]
        url = self.base.replace("http://", "ws://") + f"/ws/livechat/{LINE_CODE}/?token={token}"
        for attempt in range(attempts):
            try:
                self.ws = await websockets.connect(url, max_queue=None, ping_interval=None, open_timeout=30)
                break
            except (OSError, websockets.InvalidHandshake, TimeoutError):
                self.counters.connect_retries += 1
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(1 + attempt)
        hello = json.loads(await self.ws.recv())
        if hello.get("type") != "hello":
            raise RuntimeError(f"widget socket refused: {hello}")
        if read:
            self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        import websockets

        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                event = json.loads(raw)
                if event.get("type") == "error":
                    self.counters.error_frames.append(json.dumps(event)[:300])
                await self.inbox.put(event)

    async def send(self, payload: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(payload))

    async def wait_for(self, match: Any, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            event = await asyncio.wait_for(self.inbox.get(), timeout=max(0.01, deadline - time.monotonic()))
            if match(event):
                return event

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self.reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.reader, timeout=5)


def csrf_secret() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(32))


class Agent:
    """One agent: the staff socket (events routed to waiting conversations by session id) and the
    workspace JSON API over HTTP with the agent's session cookie and a CSRF token."""

    def __init__(self, base: str, cookie_name: str, session_key: str, csrf_name: str, counters: Counters):
        self.base = base
        self.counters = counters
        self.csrf = csrf_secret()
        self.cookies = {cookie_name: session_key, csrf_name: self.csrf}
        self.ws: Any = None
        self.http: Any = None
        self.reader: asyncio.Task[None] | None = None
        self.offers: asyncio.Queue[int] = asyncio.Queue()
        self.session_events: dict[int, asyncio.Queue[dict[str, Any]]] = {}

    async def open(self, on_offer: Any) -> None:
        import httpx
        import websockets

        self.http = httpx.AsyncClient(
            base_url=self.base,
            cookies=self.cookies,
            headers={"X-CSRFToken": self.csrf, "Referer": self.base + "/agent/"},
            timeout=60,
        )
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        url = self.base.replace("http://", "ws://") + "/ws/staff/"
        self.ws = await websockets.connect(
            url, additional_headers={"Cookie": cookie, "Origin": self.base}, max_queue=None, open_timeout=30
        )
        hello = json.loads(await self.ws.recv())
        if hello.get("type") != "hello":
            raise RuntimeError(f"agent socket refused: {hello}")
        self.reader = asyncio.create_task(self._read(on_offer))

    async def _read(self, on_offer: Any) -> None:
        import websockets

        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                event = json.loads(raw)
                kind = event.get("type")
                if kind == "error":
                    self.counters.error_frames.append(json.dumps(event)[:300])
                session_id = event.get("session_id")
                if kind == "offer.new" and isinstance(session_id, int):
                    on_offer(session_id, self)
                if isinstance(session_id, int):
                    self.queue(session_id).put_nowait(event)

    def queue(self, session_id: int) -> asyncio.Queue[dict[str, Any]]:
        return self.session_events.setdefault(session_id, asyncio.Queue())

    async def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.request(method, path, json=body)
        if response.status_code >= 400:
            self.counters.http_errors.append(f"{method} {path} {response.status_code} {response.text[:300]}")
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return dict(response.json())

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self.reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.reader, timeout=5)
        if self.http is not None:
            await self.http.aclose()


if __name__ == "__main__" and sys.argv[1:2] == ["--setup-child"]:
    setup_child(int(sys.argv[2]))
