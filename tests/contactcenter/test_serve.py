"""`manage.py serve` as a user starts it: a real process, real HTTP, a real websocket, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server_database_url() -> Iterator[str | None]:
    """On PostgreSQL the server gets a database of its own, dropped afterwards; on SQLite, DATA_DIR."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield None
        return
    import psycopg

    name = f"cc_serve_{uuid.uuid4().hex[:8]}"
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def server(tmp_path, server_database_url):
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "DEMO_PASSWORD": "demo-pass-1234",
        "PYTHONUNBUFFERED": "1",
    }
    if server_database_url:
        env["DATABASE_URL"] = server_database_url
    if settings.SCALED_MODE:
        env["REDIS_KEY_PREFIX"] = f"serve-test-{port}"
    log_path = tmp_path / "serve.log"
    log = log_path.open("a")
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    healthy = False
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                healthy = True
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    assert healthy, f"server did not become healthy:\n{log_path.read_text()}"
    yield base, proc, log_path
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def login(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, follow_redirects=False)
    page = client.get("/admin/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = client.post(
        "/admin/login/?next=/admin/",
        data={"username": "agent1", "password": "demo-pass-1234", "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/admin/login/"},
    )
    assert response.status_code == 302, response.text
    return client


async def staff_socket_hello(base: str, cookie: str | None) -> dict | int:
    uri = base.replace("http://", "ws://") + "/ws/staff/"
    headers = {"Origin": base}
    if cookie:
        headers["Cookie"] = cookie
    try:
        async with websockets.connect(uri, additional_headers=headers, open_timeout=10) as ws:
            import json

            return json.loads(await asyncio.wait_for(ws.recv(), 10))
    except websockets.exceptions.InvalidStatus as exc:
        return exc.response.status_code
    except websockets.exceptions.ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else -1


def test_serve_runs_the_whole_product_and_stops_on_sigterm(server):
    base, proc, log = server
    # Background workers report by heartbeat (the task cluster's stats expire after 3 s): on a busy
    # machine one check may fall between two beats, so look a few times.
    for _ in range(20):
        health = httpx.get(f"{base}/healthz").json()
        if health["status"] == "ok":
            break
        time.sleep(0.5)
    assert health["status"] == "ok", health
    assert health["workers"]["timers"] and health["workers"]["tasks"]

    login_page = httpx.get(f"{base}/admin/login/")
    assert login_page.status_code == 200
    assert "csrfmiddlewaretoken" in login_page.text
    assert httpx.get(f"{base}/static/admin/css/base.css").status_code == 200

    client = login(base)
    cookie = f"sessionid={client.cookies['sessionid']}"
    hello = asyncio.run(staff_socket_hello(base, cookie))
    assert isinstance(hello, dict) and hello["type"] == "hello"
    refused = asyncio.run(staff_socket_hello(base, None))
    assert refused in (403, 4401)

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    output = log.read_text()
    assert f"running at {base}/" in output
    for path in ("/agent/", "/livechat/demo/", "/chats/", "/reports/", "/admin/"):
        assert f"{base}{path}" in output, output
    # The demo's last week has late answers: they are in the chat list, not mailed at the first start.
    assert "Response time exceeded" not in output
    assert "agent1" in output and "DEMO_PASSWORD" in output
    assert "Contact center stopped." in output


def test_web_only_needs_redis(tmp_path):
    if settings.SCALED_MODE:
        pytest.skip("embedded mode only")
    out = subprocess.run(
        [sys.executable, "manage.py", "serve", "--web-only"],
        cwd=ROOT,
        env={**os.environ, "DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode != 0
    assert "REDIS_URL" in out.stderr


def test_serve_exits_non_zero_at_once_when_its_port_is_taken(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        if settings.SCALED_MODE:
            env["REDIS_KEY_PREFIX"] = f"serve-test-{port}"
        started = time.monotonic()
        out = subprocess.run(
            # No database work before binding: the failure must come from the port alone.
            [sys.executable, "manage.py", "serve", "--port", str(port), "--no-migrate", "--no-demo"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert out.returncode != 0, out.stdout + out.stderr
    assert f"Could not listen on 127.0.0.1:{port}" in out.stderr
    assert "running at" not in out.stdout
    assert time.monotonic() - started < 30


def test_links_in_notifications_use_the_address_serve_listens_on(settings, monkeypatch):
    from contactcenter.management.commands.serve import Command
    from kpi.services.clocks import conversation_url

    monkeypatch.setenv("SITE_URL", "")
    settings.SITE_URL_SET = False
    assert Command()._site_address(host="0.0.0.0", port=8123) == "http://127.0.0.1:8123"
    assert conversation_url(7) == "http://127.0.0.1:8123/chats/?history=7"
    assert os.environ["SITE_URL"] == "http://127.0.0.1:8123"


def test_a_configured_site_url_is_kept_by_serve(settings, monkeypatch):
    from contactcenter.management.commands.serve import Command
    from kpi.services.clocks import conversation_url

    monkeypatch.setenv("SITE_URL", "https://cc.example.com")
    settings.SITE_URL = "https://cc.example.com"
    settings.SITE_URL_SET = True
    assert Command()._site_address(host="127.0.0.1", port=8123) == "http://127.0.0.1:8123"
    assert conversation_url(7) == "https://cc.example.com/chats/?history=7"
