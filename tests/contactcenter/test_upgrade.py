"""The upgrade path of docs/operations.md with a real process: a web process started with `--no-migrate`
on a database that lacks this release's migrations answers /healthz with 503 naming them (so a load
balancer keeps it out), and 200 once `manage.py migrate` has run, without a restart."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def health(base: str, *, until: int, deadline_seconds: float = 60) -> httpx.Response:
    deadline = time.monotonic() + deadline_seconds
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(f"{base}/healthz", timeout=5)
            if last.status_code == until:
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"/healthz never answered {until}; last: {last and last.text}")


def test_a_process_started_before_migrate_is_kept_out_until_migrate_runs(tmp_path):
    # The embedded mode on a fresh SQLite file: the server must not touch the shared test databases.
    skip = ("DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX", "DJANGO_SETTINGS_MODULE")
    env = {k: v for k, v in os.environ.items() if k not in skip}
    env.update(DATA_DIR=str(tmp_path), PYTHONUNBUFFERED="1", LOG_LEVEL="ERROR")
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--no-migrate", "--no-demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        before = health(base, until=503)
        body = before.json()
        assert body["status"] == "unavailable"
        assert body["database"]["ok"] is True
        assert "openlines.0001_initial" in body["migrations"]["pending"]
        assert body["workers"] == {"ok": False, "error": "migrations pending"}

        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
        )
        after = health(base, until=200)
        assert after.json()["migrations"] == {"ok": True, "pending": []}
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(timeout=20)
