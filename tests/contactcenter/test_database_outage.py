"""During a PostgreSQL outage requests fail fast with 503 (JSON for API clients, an HTML page for pages)
instead of hanging for most of a minute and answering 500. The test runs a PostgreSQL cluster of its own
(initdb / pg_ctl on a free port), the app in a subprocess against it, and stops the cluster under it."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not BINARIES, reason="no PostgreSQL server binaries in /usr/lib/postgresql/*/bin"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def as_postgres_user() -> list[str]:
    """initdb refuses to run as root: run the cluster as the system's postgres user then."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start a PostgreSQL cluster")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no postgres user to run a cluster as")
    return ["runuser", "-u", "postgres", "--"]


@pytest.fixture
def cluster():
    bin_dir = Path(BINARIES[-1])
    prefix = as_postgres_user()
    # Not under pytest's temporary folder: that one is private to the user running the tests.
    base = Path(tempfile.mkdtemp(prefix="cc-outage-pg-"))
    if prefix:
        shutil.chown(base, user="postgres")
    data = base / "data"
    port = free_port()
    subprocess.run(
        [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
        cwd=base,
    )
    ctl = [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-w"]
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*ctl, "-o", options, "-l", str(base / "log"), "start"], check=True, capture_output=True)
    try:
        yield {"port": port, "stop": lambda: subprocess.run([*ctl, "-m", "immediate", "stop"], check=False)}
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def test_requests_fail_fast_with_503_when_postgresql_goes_away(cluster, tmp_path):
    skip = ("DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX", "DJANGO_SETTINGS_MODULE")
    env = {k: v for k, v in os.environ.items() if k not in skip}
    env.update(
        DATA_DIR=str(tmp_path),
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="ERROR",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{cluster['port']}/postgres",
    )
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--no-migrate", "--no-demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                health = httpx.get(f"{base}/healthz", timeout=5)
                if health.json()["database"]["ok"]:
                    break
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.5)

        cluster["stop"]()

        for attempt in range(2):  # the first finds pooled connections broken, the next must open new ones
            started = time.monotonic()
            token = "cc_abcd1234_" + "s" * 43  # well formed, so it is looked up in the database
            api = httpx.get(f"{base}/api/v1/lines/", headers={"Authorization": f"Bearer {token}"}, timeout=60)
            elapsed = time.monotonic() - started
            assert api.status_code == 503, api.text
            assert api.headers["content-type"] == "application/json"
            assert "temporarily unavailable" in api.json()["errors"]["__all__"][0]
            assert elapsed < 8, f"attempt {attempt}: {elapsed:.1f} s"

        started = time.monotonic()
        page = httpx.get(f"{base}/admin/", cookies={"sessionid": "x" * 32}, timeout=60)
        assert page.status_code == 503 and time.monotonic() - started < 8
        assert page.headers["content-type"].startswith("text/html")
        assert "Temporarily unavailable" in page.text and page.headers["retry-after"] == "30"

        widget = httpx.post(f"{base}/livechat/site/session/", json={}, timeout=60)
        assert widget.status_code == 503 and widget.headers["access-control-allow-origin"] == "*"
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:  # its background loops may still wait for the database
            server.kill()
            server.wait(timeout=20)
