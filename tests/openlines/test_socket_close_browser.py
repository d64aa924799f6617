"""What the pages do with a refusal and a close code, in a real browser against a real `manage.py serve`.

- The widget marks a message the server refuses for good (a NUL character) failed, and never resends it,
  not even after a reload (before, the socket closed with 1011 and the widget resent it forever).
- The widget whose token went bad starts a new conversation on the socket's 4403 (before, the refusal
  came before accept, the page saw 1006 and retried with the same token forever).
- The workspace whose login ended shows "logged out, sign in again" on 4401 and stops reconnecting.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import CHROMIUM, launched_chromium
from tests.openlines.test_browser_workspace import TIMEOUT, Server, agent_page, customer_page, customer_says

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# A first start migrates and loads the demo data: on a busy machine that takes longer than the workspace
# tests' server waits, so this module waits on for the same server.
STARTUP_SECONDS = 300


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    if not Path(CHROMIUM).exists():
        pytest.skip("needs the system Chromium at /usr/bin/chromium")
    srv = Server(tmp_path_factory.mktemp("serve"))
    try:
        srv.start()
    except AssertionError:
        deadline = time.monotonic() + STARTUP_SECONDS
        while srv.proc is not None and srv.proc.poll() is None and time.monotonic() < deadline:
            try:
                if httpx.get(f"{srv.base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            srv.stop()
            raise
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


def widget_outbox(page) -> list:
    return page.evaluate(
        """() => {
            const key = Object.keys(localStorage).find(
                k => k.startsWith("cc-livechat:") && k.endsWith(":outbox"));
            return key ? JSON.parse(localStorage.getItem(key) || "[]") : [];
        }"""
    )


def test_a_message_refused_for_good_is_marked_failed_and_never_resent(server: Server, contexts):
    customer = customer_page(contexts, server)
    sockets = []
    customer.on("websocket", lambda ws: sockets.append(ws))
    customer_says(customer, "First, a normal message")
    customer.wait_for_selector(".msg-client:not(.pending):has-text('normal message')")
    # A NUL character typed (pasted) into the message: PostgreSQL cannot store it.
    customer.locator(".input").evaluate("(node) => { node.value = 'bad \\u0000 text'; }")
    customer.press(".input", "Enter")
    failed = customer.locator(".msg-client.failed", has_text="bad")
    failed.wait_for()
    assert "pending" not in (failed.get_attribute("class") or "")
    assert "NUL" in customer.locator(".status").inner_text()
    assert widget_outbox(customer) == []
    # The socket stayed open: the next message goes through on it.
    customer_says(customer, "Still here")
    customer.wait_for_selector(".msg-client:not(.pending):has-text('Still here')")
    assert sockets == []  # no reconnect
    # After a reload nothing is resent and the conversation goes on.
    customer.reload()
    customer.click(".launcher")
    customer.wait_for_selector(".msg-client:has-text('Still here')")
    time.sleep(1)
    assert widget_outbox(customer) == []
    assert customer.locator(".msg-client", has_text="bad").count() == 0


def test_a_widget_whose_token_went_bad_starts_a_new_conversation(server: Server, contexts):
    context = contexts(viewport={"width": 1200, "height": 800})
    requests: list[dict] = []

    def hand_out_a_bad_token_once(route) -> None:
        requests.append(route.request.post_data_json or {})
        response = route.fetch()
        body = response.json()
        if len(requests) == 1:
            body["token"] = "a-token-gone-bad"  # as after a key rotation: the socket refuses it
        route.fulfill(response=response, json=body)

    context.route("**/livechat/*/session/", hand_out_a_bad_token_once)
    page = context.new_page()
    closes: list[int] = []
    page.on("websocket", lambda ws: ws.on("close", lambda _ws: closes.append(1)))
    page.goto(f"{server.base}/livechat/demo/")
    page.click(".launcher")
    page.wait_for_selector(".panel .title:text('Website chat')")
    customer_says(page, "After a new start")
    page.wait_for_selector(".msg-client:not(.pending):has-text('After a new start')")
    # The bad token was dropped: the widget asked for a new conversation, without any token.
    assert len(requests) == 2 and requests[1].get("token") is None
    assert len(closes) == 1  # one refused socket, then the good one: no retry loop


def test_the_workspace_says_signed_out_on_4401_and_stops_reconnecting(server: Server, contexts):
    agent = agent_page(contexts, server, "agent1")
    sockets = []
    agent.on("websocket", lambda ws: sockets.append(ws))
    csrf = next(c["value"] for c in agent.context.cookies() if c["name"] == "csrftoken")
    response = agent.context.request.post(
        f"{server.base}/admin/logout/", headers={"X-CSRFToken": csrf, "Referer": f"{server.base}/agent/"}
    )
    assert response.ok
    agent.wait_for_selector('#connection[data-state="logged_out"]')
    assert "Sign in again" in agent.locator("#connection").inner_text()
    time.sleep(3)  # the page would have reconnected within 1 s
    assert sockets == []
