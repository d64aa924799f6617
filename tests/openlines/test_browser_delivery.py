"""A send being retried, in a real browser against a real `manage.py serve`: the agent sees why and when it
is tried next, retries it now, cancels another one (see test_browser_workspace for the server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conftest import CHROMIUM
from tests.openlines.test_browser_workspace import (  # noqa: F401  (module fixtures: the browser, contexts)
    PASSWORD,
    ROOT,
    Server,
    agent_page,
    browser,
    contexts,
    row_for,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _env(data_dir: Path) -> dict[str, str]:
    skip = ("DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
    env = {k: v for k, v in os.environ.items() if k not in skip}
    # The integrator's callback server below listens on 127.0.0.1, which the outbound guard refuses unless
    # private networks are allowed (as in local development).
    env.update(
        {"DATA_DIR": str(data_dir), "DEMO_PASSWORD": PASSWORD, "OUTBOUND_ALLOW_PRIVATE_NETWORKS": "true"}
    )
    return env


def manage(data_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return done.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    """As test_browser_workspace's, with the database migrated and the demo data loaded first (as `serve`
    does on an empty database): on a loaded machine that can take longer than the server is given."""
    if not Path(CHROMIUM).exists():
        pytest.skip("needs the system Chromium at /usr/bin/chromium")
    srv = Server(tmp_path_factory.mktemp("serve"), env={"OUTBOUND_ALLOW_PRIVATE_NETWORKS": "true"})
    manage(srv.data_dir, "migrate", "--verbosity", "0")
    manage(
        srv.data_dir,
        "shell",
        "-c",
        f"from contactcenter.services.demo import demo_data_load; demo_data_load(password={PASSWORD!r})",
    )
    srv.start()
    yield srv
    srv.stop()


class Integrator:
    """The REST connector's callback endpoint on 127.0.0.1: answers `status` to every callback."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[dict] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                owner.received.append(json.loads(self.rfile.read(length)))
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/callback"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def texts(self) -> list[str]:
        return [body["message"]["text"] for body in self.received]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def integrator() -> Iterator[Integrator]:
    endpoint = Integrator()
    yield endpoint
    endpoint.close()


SETUP = """
import json
from contactcenter.models import Connector
from contactcenter.services.rest_connector import rest_connector_callback_set, rest_connector_token_rotate
from openlines.models import OpenLine
line = OpenLine.objects.get(line_name="Website chat")
connector = Connector.objects.create(kind="rest", line=line, name="Shop backend")
credentials = rest_connector_token_rotate(connector=connector)
rest_connector_callback_set(connector=connector, callback_url=%r)
print(json.dumps({"uuid": str(connector.uuid), "token": credentials.token}))
"""


def rest_connector_on(serve: Server, callback_url: str) -> dict[str, str]:
    """A REST connector on the demo line, created in the server's database as an administrator would."""
    out = manage(serve.data_dir, "shell", "-c", SETUP % callback_url)
    return json.loads(out.strip().splitlines()[-1])


def client_writes(serve: Server, connector: dict[str, str], text: str) -> None:
    response = httpx.post(
        f"{serve.base}/api/v1/connectors/{connector['uuid']}/messages/",
        json={
            "user": {"id": "shop-u1", "name": "Rita", "last_name": "Retry"},
            "chat": {"id": "shop-c1"},
            "message": {"id": "shop-m1", "date": int(time.time()), "text": text},
        },
        headers={"Authorization": f"Bearer {connector['token']}"},
        timeout=15,
    )
    assert response.status_code == 201, response.text


def test_agent_sees_a_retrying_send_retries_it_and_cancels_another(server, contexts, integrator):  # noqa: F811
    connector = rest_connector_on(server, integrator.url)
    agent = agent_page(contexts, server, "agent1")
    client_writes(server, connector, "Where is parcel 77?")
    row = row_for(agent, "parcel 77")
    row.wait_for()
    row.click()
    agent.click(".action-answer")
    agent.wait_for_selector(".group-in_progress .session-row:has-text('parcel 77')")

    # The integrator's endpoint is down: the agent sees the reason and when it is tried next.
    integrator.status = 503
    agent.fill("#composer-input", "It left our warehouse today.")
    agent.press("#composer-input", "Enter")
    message = agent.locator(".msg-agent", has_text="It left our warehouse today.")
    retrying = message.locator(".delivery-pending", has_text="Not delivered yet")
    retrying.wait_for()
    text = retrying.locator(".delivery-text").inner_text()
    assert "HTTP 503" in text and "next try at" in text
    assert message.locator("button.delivery-retry").is_visible()
    assert message.locator("button.delivery-cancel").is_visible()

    # Back up: Retry sends it now, without waiting for the next try.
    integrator.status = 200
    message.locator("button.delivery-retry").click()
    message.locator(".delivery-sent").wait_for()
    assert message.locator("button.delivery-retry").count() == 0
    assert integrator.texts().count("It left our warehouse today.") == 2

    # Down again: this one the agent cancels; it shows as failed, cancelled, and may still be retried.
    integrator.status = 503
    agent.fill("#composer-input", "Tracking number follows.")
    agent.press("#composer-input", "Enter")
    second = agent.locator(".msg-agent", has_text="Tracking number follows.")
    second.locator(".delivery-pending", has_text="Not delivered yet").wait_for()
    second.locator("button.delivery-cancel").click()
    failed = second.locator(".delivery-failed")
    failed.wait_for()
    assert "Cancelled by agent." in failed.inner_text()
    assert second.locator("button.delivery-retry").is_visible()
    assert second.locator("button.delivery-cancel").count() == 0
    assert agent.locator("#chat-error").inner_text() == ""
