"""Start the real servers as subprocesses for the benchmarks and the multi-process tests.

Importable as `cluster` from a script in bench/ and as `bench.cluster` from the tests.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"


class Processes:
    """`manage.py` (or `python -m <module>`) subprocesses, each in its own process group with its log in
    `log_dir`."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(
        self, name: str, args: list[str], env: dict[str, str], *, module: str = ""
    ) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("ab")
        program = ["-m", module] if module else ["manage.py"]
        proc = subprocess.Popen(
            [sys.executable, *program, *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: stopped with its children, not by the tty's ^C
        )
        self.procs.append((name, proc))
        return proc

    def stop(self) -> None:
        for _name, proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for _name, proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None:
                log = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
                raise SystemExit(f"{name} exited with {proc.returncode}:\n{log}")


def wait_http(url: str, procs: Processes, timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        procs.check_alive()
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {timeout} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_admin(sql: str, admin_url: str = PG_ADMIN_URL) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.encode())


def redis_flush(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a production-like server: no DEBUG, own data folder, abuse limits lifted
    (every simulated visitor comes from 127.0.0.1)."""
    skip = ("DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE")
    env = {k: v for k, v in os.environ.items() if k not in skip}
    env.update(
        {
            "DATA_DIR": str(data_dir),
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(40),
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "LIVECHAT_RATE_LIMIT_SESSIONS_PER_MINUTE": "1000000",
            "LIVECHAT_RATE_LIMIT_MESSAGES_PER_10S": "1000000",
            "LIVECHAT_RATE_LIMIT_ACTIONS_PER_10S": "1000000",
            "API_RATE_LIMIT_PER_MINUTE": "0",  # 0 = off
            "WEBHOOK_RATE_LIMIT_PER_MINUTE": "0",
        }
    )
    env.update(extra)
    return env


def agents_and_line_create(
    *, agents: int, username_prefix: str, line_values: dict[str, Any]
) -> tuple[list[Any], Any]:
    """In a process with Django set up: migrate, create `agents` staff agents (no password) and one line
    whose queue holds them all, evenly, with no chat limit and no availability check, plus its live chat."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from contactcenter.models import EmployeeProfile
    from openlines.models import OpenLine
    from openlines.services.lines import line_create
    from openlines.services.livechat import livechat_connector_for

    call_command("migrate", interactive=False, verbosity=0)
    users = []
    for n in range(agents):
        user = get_user_model().objects.create_user(
            username=f"{username_prefix}{n:03d}", password=None, first_name=f"Agent {n}", is_staff=True
        )
        EmployeeProfile.objects.create(user=user)
        users.append(user)
    values = {
        "queue_type": OpenLine.QueueType.EVENLY,
        "max_chat": 0,
        "check_available": False,
        "language_id": "en",
        **line_values,
    }
    queue_row = {"department": None, "exclude_heads": False, "display_name": "", "work_position": ""}
    line = line_create(values=values, queue=[{"user": u, **queue_row} for u in users])
    livechat_connector_for(line)
    return users, line


def login_session_keys(users: list[Any]) -> list[str]:
    """A logged-in session per user, as the login page would create it; the keys go into cookies."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store_class: Any = import_module(settings.SESSION_ENGINE).SessionStore
    keys = []
    for user in users:
        store = store_class()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        keys.append(store.session_key)
    return keys
