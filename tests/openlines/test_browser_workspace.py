"""The agent workspace and the live chat widget in a real browser against a real `manage.py serve`.

The server runs in a subprocess on its own SQLite file with the demo data (the "Website chat" line
answered by agent1 and agent2 "to everybody"), exactly as the README's first command starts it. Every
test drives a customer (the widget on /livechat/demo/) and agents (the /agent/ workspace) in separate
browser contexts; what one does must show up live in the others.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CHROMIUM, launched_chromium

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "demo-pass-1234"
SCREENSHOTS = ROOT / "docs" / "screenshots"
TIMEOUT = 15_000
RESYNC_INTERVAL = 2

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`manage.py serve` in embedded mode on a data directory of its own; restartable on the same port."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.extra_env = env or {}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "serve.log"

    def start(self) -> None:
        skip = ("DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")
        env = {k: v for k, v in os.environ.items() if k not in skip}
        env.update(
            {
                "DATA_DIR": str(self.data_dir),
                "DEMO_PASSWORD": PASSWORD,
                "PYTHONUNBUFFERED": "1",
                "DEBUG": "true",
                # Pages resync every 2 s while connected (default 30), so a lost push shows quickly.
                "RESYNC_INTERVAL": str(RESYNC_INTERVAL),
                **self.extra_env,
            }
        )
        log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        # Generous: the first start migrates and loads the demo, slow on a machine shared with other work.
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"server did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    if not Path(CHROMIUM).exists():
        pytest.skip("needs the system Chromium at /usr/bin/chromium")
    srv = Server(tmp_path_factory.mktemp("serve"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser(server):
    with launched_chromium() as chromium:
        yield chromium


@pytest.fixture
def contexts(browser):
    opened = []

    def new(**kwargs):
        context = browser.new_context(**kwargs)
        context.set_default_timeout(TIMEOUT)
        opened.append(context)
        return context

    yield new
    for context in opened:
        context.close()


class LossySocket:
    """Sits between a page and the server's socket; while `dropping`, the server's pushed events are lost on
    the way (as when the process that committed them dies before pushing) and only answers get through."""

    ANSWERS = frozenset({"hello", "resync", "ack", "pong", "heartbeat.ack", "watching", "unwatched", "error"})

    def __init__(self) -> None:
        self.dropping = False
        self.dropped = 0

    def route(self, ws) -> None:
        to_server = ws.connect_to_server()

        def forward(message) -> None:
            if self.dropping and json.loads(message).get("type") not in self.ANSWERS:
                self.dropped += 1
                return
            ws.send(message)

        to_server.on_message(forward)


def agent_page(contexts, server: Server, username: str, *, lossy: LossySocket | None = None):
    context = contexts(viewport={"width": 1280, "height": 800})
    if lossy is not None:
        context.route_web_socket(re.compile(r".*/ws/staff/.*"), lossy.route)
    page = context.new_page()
    page.goto(f"{server.base}/admin/login/?next=/agent/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r".*/agent/.*"))
    page.wait_for_selector('#connection[data-state="open"]')
    return page


def customer_page(contexts, server: Server, *, mobile: bool = False, lossy: LossySocket | None = None):
    options = (
        {"viewport": {"width": 390, "height": 760}, "is_mobile": True, "has_touch": True}
        if mobile
        else {"viewport": {"width": 1200, "height": 800}}
    )
    context = contexts(**options)
    if lossy is not None:
        context.route_web_socket(re.compile(r".*/ws/livechat/.*"), lossy.route)
    page = context.new_page()
    page.goto(f"{server.base}/livechat/demo/")
    page.click(".launcher")
    page.wait_for_selector(".panel .title:text('Website chat')")
    return page


def customer_says(page, text: str) -> None:
    page.fill(".input", text)
    page.press(".input", "Enter")


def row_for(page, client_text: str):
    return page.locator(".session-row", has_text=client_text)


def test_customer_writes_agent_answers_closes_and_customer_rates(server, contexts):
    agent = agent_page(contexts, server, "agent1")
    customer = customer_page(contexts, server, mobile=True)
    customer_says(customer, "Hello, where is my order 1001?")
    customer.wait_for_selector(".msg-client:not(.pending):has-text('order 1001')")
    customer.click(".form-skip")

    row = row_for(agent, "order 1001")
    row.wait_for()  # arrives live: the page was never reloaded
    assert agent.locator(".group-offered .session-row", has_text="order 1001").count() == 1
    row.click()
    agent.click(".action-answer")
    agent.wait_for_selector(".group-in_progress .session-row:has-text('order 1001')")
    # Canned responses: "/" and a part of the shortcut, Enter inserts the text.
    agent.type("#composer-input", "/wai")
    agent.wait_for_selector(".canned-item.selected:has-text('/wait')")
    agent.press("#composer-input", "Enter")
    assert agent.input_value("#composer-input").startswith("Thank you for waiting")
    agent.fill("#composer-input", "Let me check that for you.\nOne moment please.")
    agent.press("#composer-input", "Enter")

    reply = customer.locator(".msg-agent", has_text="Let me check")
    reply.wait_for()
    assert "One moment please." in reply.inner_text()
    assert customer.locator(".msg-agent .author").first.inner_text() == "Adam Agent"
    assert "Support agent" in customer.locator(".agent").inner_text()
    # The demo page styles every div red and bold; none of it reaches the widget in its shadow root.
    assert customer.locator(".msg-agent .text").first.evaluate("n => getComputedStyle(n).fontWeight") == "400"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    agent.screenshot(path=str(SCREENSHOTS / "workspace.png"))
    customer.screenshot(path=str(SCREENSHOTS / "widget-mobile.png"))

    agent.click(".action-close")
    customer.click(".rate-like")
    customer.wait_for_selector(".status:has-text('Thank you for your rating')")
    # Rated while closing: the demo line closes the conversation at once; it leaves the agent's list.
    agent.wait_for_selector(".session-row:has-text('order 1001')", state="detached")


def test_to_everybody_offer_disappears_for_the_other_agent(server, contexts):
    adam = agent_page(contexts, server, "agent1")
    bea = agent_page(contexts, server, "agent2")
    customer = customer_page(contexts, server)
    customer_says(customer, "Question about delivery times")
    row_for(adam, "delivery times").wait_for()
    row_for(bea, "delivery times").wait_for()
    row_for(bea, "delivery times").click()
    bea.click(".action-answer")
    bea.wait_for_selector(".group-in_progress .session-row:has-text('delivery times')")
    row_for(adam, "delivery times").wait_for(state="detached")
    bea.fill("#composer-input", "Bea here")
    bea.press("#composer-input", "Enter")
    customer.locator(".msg-agent", has_text="Bea here").wait_for()
    assert customer.locator(".msg-agent .author").last.inner_text() == "Bea Agent"


def test_transfer_between_two_agents(server, contexts):
    adam = agent_page(contexts, server, "agent1")
    bea = agent_page(contexts, server, "agent2")
    customer = customer_page(contexts, server)
    customer_says(customer, "Please transfer me to billing")
    row_for(adam, "billing").wait_for()
    row_for(adam, "billing").click()
    adam.click(".action-answer")
    adam.wait_for_selector(".group-in_progress .session-row:has-text('billing')")
    row_for(bea, "billing").wait_for(state="detached")
    adam.click(".action-transfer")
    adam.fill("#transfer-search", "Bea")
    adam.locator("#transfer-agents .target", has_text="Carl").wait_for(state="detached")  # search applied
    assert adam.locator("#transfer-lines .target", has_text="Website chat").count() == 0  # its own line
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    adam.screenshot(path=str(SCREENSHOTS / "workspace-transfer.png"))
    adam.locator("#transfer-agents .target", has_text="Bea").click()
    row_for(adam, "billing").wait_for(state="detached")
    row_for(bea, "billing").wait_for()
    row_for(bea, "billing").click()
    bea.locator(".msg-system", has_text="Bea").first.wait_for()
    bea.fill("#composer-input", "Billing speaking")
    bea.press("#composer-input", "Enter")
    customer.locator(".msg-agent", has_text="Billing speaking").wait_for()


def test_script_and_img_from_a_customer_show_as_plain_text(server, contexts):
    evil_name = "<script>window.__xss=1</script>Mallory"
    evil_text = '<img src=x onerror="window.__xss=2">hi'
    customer = customer_page(contexts, server)
    customer_says(customer, evil_text)
    customer.wait_for_selector(".contact-form input[name=name]")
    customer.fill(".contact-form input[name=name]", evil_name)
    customer.click(".form-submit")
    customer.wait_for_selector(".contact-form", state="hidden")
    assert customer.locator(".msg-client .text").first.inner_text() == evil_text

    agent = agent_page(contexts, server, "agent1")
    row = row_for(agent, "Mallory")
    row.wait_for()
    row.click()
    agent.locator(".msg-client .text", has_text="onerror").wait_for()
    assert agent.locator(".msg-client .text").last.inner_text() == evil_text
    assert agent.locator(".client-panel .client-name").inner_text() == evil_name
    assert agent.evaluate("window.__xss") is None
    assert customer.evaluate("window.__xss") is None
    session_id = re.search(r"session=(\d+)", agent.url).group(1)

    admin = agent_page(contexts, server, "admin")
    admin.goto(f"{server.base}/admin/openlines/session/{session_id}/change/")
    admin.get_by_text(evil_text).first.wait_for()
    assert admin.evaluate("window.__xss") is None
    admin.goto(f"{server.base}/admin/openlines/client/")
    admin.get_by_text(evil_name).first.wait_for()
    assert admin.evaluate("window.__xss") is None


def test_nothing_is_lost_when_the_server_restarts_mid_conversation(server, contexts):
    agent = agent_page(contexts, server, "agent1")
    customer = customer_page(contexts, server)
    customer_says(customer, "Before the restart")
    row_for(agent, "Before the restart").wait_for()
    row_for(agent, "Before the restart").click()
    agent.click(".action-answer")
    agent.wait_for_selector(".group-in_progress .session-row:has-text('Before the restart')")
    agent.fill("#composer-input", "I am here")
    agent.press("#composer-input", "Enter")
    customer.locator(".msg-agent", has_text="I am here").wait_for()

    server.stop()
    customer.wait_for_selector(".status:has-text('Connection lost')")
    agent.wait_for_selector('#connection[data-state="closed"]')
    customer_says(customer, "Typed while the server was down")
    customer.wait_for_selector(".msg-client.pending:has-text('while the server was down')")
    server.start()

    # The widget resends its queued message once it reconnects; the agent's page resyncs and shows it.
    customer.wait_for_selector(
        ".msg-client:not(.pending):has-text('while the server was down')", timeout=40_000
    )
    agent.wait_for_selector('#connection[data-state="open"]', timeout=40_000)
    agent.locator(".msg-client .text", has_text="while the server was down").wait_for(timeout=20_000)
    agent.fill("#composer-input", "Welcome back")
    agent.press("#composer-input", "Enter")
    customer.locator(".msg-agent", has_text="Welcome back").wait_for()
    # Stored once, in order, after a reload as well.
    customer.reload()
    customer.click(".launcher")
    customer.locator(".msg-agent", has_text="Welcome back").wait_for()
    texts = customer.locator(".msg-client .text, .msg-agent .text").all_inner_texts()
    relevant = [
        t
        for t in texts
        if t in ("Before the restart", "I am here", "Typed while the server was down", "Welcome back")
    ]
    assert relevant == ["Before the restart", "I am here", "Typed while the server was down", "Welcome back"]
    customer.screenshot(path=str(SCREENSHOTS / "widget-desktop.png"))


def test_pushes_lost_without_a_reconnect_arrive_with_the_next_periodic_resync(server, contexts):
    agent_socket, customer_socket = LossySocket(), LossySocket()
    agent = agent_page(contexts, server, "agent1", lossy=agent_socket)
    customer = customer_page(contexts, server, lossy=customer_socket)
    customer_says(customer, "Checking lost pushes")
    customer.wait_for_selector(".msg-client:not(.pending):has-text('lost pushes')")
    row_for(agent, "lost pushes").click()
    agent.click(".action-answer")
    agent.wait_for_selector(".group-in_progress .session-row:has-text('lost pushes')")

    # Neither socket closes, so neither page reconnects: only the periodic resync can bring these.
    agent_socket.dropping = customer_socket.dropping = True
    customer_says(customer, "Written while the pushes are lost")
    customer.wait_for_selector(".msg-client:not(.pending):has-text('while the pushes are lost')")
    agent.fill("#composer-input", "Answered while the pushes are lost")
    agent.press("#composer-input", "Enter")

    within = RESYNC_INTERVAL * 1.2 * 1000 + 5_000
    agent.locator(".msg-client .text", has_text="Written while the pushes are lost").wait_for(timeout=within)
    customer.locator(".msg-agent", has_text="Answered while the pushes are lost").wait_for(timeout=within)
    assert agent_socket.dropped and customer_socket.dropped  # the pushes really were lost
    assert agent.locator(".msg-client .text", has_text="Written while the pushes are lost").count() == 1


def test_standalone_chat_page_fills_a_phone_screen(server, contexts):
    page = contexts(viewport={"width": 390, "height": 760}, is_mobile=True, has_touch=True).new_page()
    page.goto(f"{server.base}/livechat/website-chat/")
    page.wait_for_selector(".panel.inline .title:text('Website chat')")
    box = page.locator(".panel.inline").bounding_box()
    assert box is not None and box["width"] >= 380 and box["height"] >= 700
    customer_says(page, "Hello from a direct link")
    page.wait_for_selector(".msg-client:not(.pending):has-text('direct link')")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "widget-standalone.png"))


def test_agent_creates_a_lead_from_the_client_panel(server, contexts):
    agent = agent_page(contexts, server, "agent1")
    customer = customer_page(contexts, server)
    customer_says(customer, "Please call me about prices")
    customer.wait_for_selector(".msg-client:not(.pending):has-text('about prices')")
    customer.click(".form-skip")

    row_for(agent, "about prices").click()
    agent.click(".action-answer")
    # As an agent would: wait until the conversation is theirs (the lead endpoint refuses an offered one).
    agent.wait_for_selector(".group-in_progress .session-row:has-text('about prices')")
    # An anonymous visitor without contacts gets no automatic lead: the agent creates one with one click.
    agent.click(".action-create-lead")
    link = agent.locator("#client-panel a", has_text="Website chat")
    link.wait_for()
    assert agent.locator(".action-create-lead").count() == 0
    assert "/admin/crm/lead/" in (link.get_attribute("href") or "")
