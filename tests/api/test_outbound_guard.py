"""User-set outbound URLs (REST connector callback, bot webhooks) never reach loopback, private, link-local,
reserved, multicast or unspecified addresses: refused when saved (API / admin form error, after resolving
the name) and again when sent (the connection goes to the address that was checked, so DNS rebinding does
not help). No test traffic leaves 127.0.0.1: names resolve through a monkeypatched resolver and refused
addresses are refused before any connection."""

from __future__ import annotations

import http.server
import ipaddress
import threading

import pytest
from django.test import Client

from contactcenter.connectors import rest
from contactcenter.models import OutboundDelivery
from openlines import outbound_guard
from openlines.models import ChatBot
from openlines.services import actions, bots
from openlines.session_models import Message
from tests.access_helpers import grant
from tests.api.conftest import api_client, deliver, patch

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC = "93.184.215.14"
REFUSED_LITERALS = [
    "http://127.0.0.1/cb",
    "http://localhost:8000/cb",
    "http://10.0.0.1/cb",
    "http://172.16.5.4/cb",
    "http://192.168.1.1/cb",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/cb",
    "http://100.64.0.1/cb",
    "http://224.0.0.1/cb",
    "http://240.0.0.1/cb",
    "http://[::1]/cb",
    "http://[::ffff:127.0.0.1]/cb",
    "http://[::ffff:10.0.0.1]/cb",
    "http://[fe80::1]/cb",
    "http://[fc00::1]/cb",
    "http://[::]/cb",
    "http://[ff02::1]/cb",
]


@pytest.fixture
def guard_on(settings, monkeypatch):
    """The production rule, with names resolved by a table instead of DNS."""
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = False
    table: dict[str, list[str]] = {"localhost": ["127.0.0.1", "::1"]}

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("no such name")
        return table[host]

    monkeypatch.setattr(outbound_guard, "resolver", resolve)
    return table


@pytest.fixture
def admin_api(make_user):
    admin = make_user("integration-admin", is_staff=True)
    grant(admin, connectors_modify="any", lines_view="any")
    return api_client(admin)


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "10.1.2.3", "::ffff:192.168.0.1", "64:ff9b::a00:1", "2002:7f00:1::", "198.18.0.1", "::"],
)
def test_internal_addresses_are_refused_and_public_ones_allowed(address):
    assert outbound_guard.address_refused(ipaddress.ip_address(address))
    assert not outbound_guard.address_refused(ipaddress.ip_address(PUBLIC))
    assert not outbound_guard.address_refused(ipaddress.ip_address("2606:4700::1111"))


@pytest.mark.parametrize("url", REFUSED_LITERALS)
def test_api_refuses_a_callback_url_to_an_internal_address(guard_on, admin_api, connector, url):
    response = patch(admin_api, f"/api/v1/connectors/{connector.uuid}/rest-settings/", {"callback_url": url})
    assert response.status_code == 400, response.content
    assert "private" in response.json()["errors"]["callback_url"][0]
    connector.refresh_from_db()
    assert rest.CALLBACK_URL not in connector.secrets


def test_api_checks_the_address_the_name_resolves_to(guard_on, admin_api, connector):
    settings_url = f"/api/v1/connectors/{connector.uuid}/rest-settings/"
    guard_on["hooks.integrator.test"] = [PUBLIC]
    guard_on["internal.integrator.test"] = ["10.20.30.40"]
    guard_on["mixed.integrator.test"] = [PUBLIC, "127.0.0.1"]

    ok = patch(admin_api, settings_url, {"callback_url": "https://hooks.integrator.test/cb"})
    assert ok.status_code == 200 and ok.json()["callback_url"] == "https://hooks.integrator.test/cb"
    for name in ("internal", "mixed"):
        refused = patch(admin_api, settings_url, {"callback_url": f"https://{name}.integrator.test/cb"})
        assert refused.status_code == 400 and "private" in refused.json()["errors"]["callback_url"][0]
    unknown = patch(admin_api, settings_url, {"callback_url": "https://nowhere.integrator.test/cb"})
    assert unknown.status_code == 400 and "resolved" in unknown.json()["errors"]["callback_url"][0]


def test_the_setting_allows_private_networks_for_development(admin_api, connector):
    response = patch(
        admin_api,
        f"/api/v1/connectors/{connector.uuid}/rest-settings/",
        {"callback_url": "http://10.0.0.1/cb"},
    )
    assert response.status_code == 200


def test_dns_rebinding_after_save_is_refused_at_send_time_without_any_connection(
    integrator, agents, monkeypatch, guard_on
):
    """The name resolved to a public address when saved; now it points at the loopback interface."""
    connects: list[tuple] = []
    monkeypatch.setattr(
        outbound_guard.httpcore.SyncBackend, "connect_tcp", lambda self, *a, **k: connects.append(a)
    )
    guard_on["integrator.example"] = ["127.0.0.1"]
    session_id = integrator.send("Hi", msg_id="m1").json()["session_id"]
    message = actions.message_send(user=agents[0], session_id=session_id, text="Hello")
    deliver()
    delivery = OutboundDelivery.objects.get(message=message)
    assert delivery.status == OutboundDelivery.Status.FAILED
    assert delivery.last_error == "The callback URL points to a private or reserved network address."
    assert Message.objects.get(pk=message.pk).delivery == "failed"
    assert connects == []


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        _Recorder.seen.append({"host": self.headers["Host"], "path": self.path})
        body = b"internal secret page"
        self.send_response(500 if self.path == "/fail" else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_connection_goes_to_the_checked_address_with_the_original_host(
    integrator, agents, monkeypatch, local_server
):
    """Allowed (development setting), the pinned transport connects to what the resolver said while the
    Host header keeps the name; an error answer is reported by status only, never its body."""
    monkeypatch.setattr(outbound_guard, "resolver", lambda host, port: ["127.0.0.1"])
    connector = integrator.connector
    connector.secrets = {
        **connector.secrets,
        rest.CALLBACK_URL: f"http://hooks.integrator.test:{local_server}/cb",
    }
    connector.save(update_fields=["secrets"])
    session_id = integrator.send("Hi", msg_id="m1").json()["session_id"]
    deliver()
    message = actions.message_send(user=agents[0], session_id=session_id, text="Hello")
    deliver()
    assert OutboundDelivery.objects.get(message=message).status == OutboundDelivery.Status.SENT
    assert _Recorder.seen[-1] == {"host": f"hooks.integrator.test:{local_server}", "path": "/cb"}

    connector.secrets = {
        **connector.secrets,
        rest.CALLBACK_URL: f"http://hooks.integrator.test:{local_server}/fail",
    }
    connector.save(update_fields=["secrets"])
    failing = actions.message_send(user=agents[0], session_id=session_id, text="Again")
    deliver()
    error = OutboundDelivery.objects.get(message=failing).last_error
    assert error == "The callback URL answered HTTP 500." and "secret" not in error


def test_admin_refuses_a_bot_webhook_to_an_internal_address(guard_on, admin_user):
    client = Client()
    client.force_login(admin_user)
    guard_on["bot.internal.test"] = ["192.168.10.10"]
    for url in ("https://169.254.169.254/hook", "https://bot.internal.test/hook", "https://[::1]/hook"):
        response = client.post(
            "/admin/openlines/chatbot/add/",
            {
                "name": "Hook",
                "kind": "webhook",
                "active": "on",
                "webhook_url": url,
                "secret": "s",
                "script": "{}",
            },
        )
        assert response.status_code == 200
        assert "private" in str(response.context["adminform"].form.errors["webhook_url"])
    assert not ChatBot.objects.exists()
    guard_on["bot.public.test"] = [PUBLIC]
    response = client.post(
        "/admin/openlines/chatbot/add/",
        {
            "name": "Hook",
            "kind": "webhook",
            "active": "on",
            "webhook_url": "https://bot.public.test/hook",
            "secret": "s",
            "script": "{}",
        },
    )
    assert (
        response.status_code == 302
        and ChatBot.objects.filter(webhook_url="https://bot.public.test/hook").exists()
    )


def test_bot_webhook_is_not_called_when_its_name_now_resolves_internally(guard_on, monkeypatch):
    connects: list[tuple] = []
    monkeypatch.setattr(
        outbound_guard.httpcore.SyncBackend, "connect_tcp", lambda self, *a, **k: connects.append(a)
    )
    bot = ChatBot.objects.create(name="Hook", kind=ChatBot.Kind.WEBHOOK, webhook_url="https://bot.test/hook")
    guard_on["bot.test"] = ["10.0.0.7"]
    assert bots.bot_webhook_post(bot.pk, {"event": "session.start"}) == 0
    assert connects == []
