"""`manage.py connectors_refresh` and the Contact Center page's "Re-register webhooks" button register every
connected channel's webhook again with the current public URL, report per channel, and are safe to run
twice (against the platforms' APIs mocked with the recorder transport)."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from django.core.management import CommandError, call_command
from django.test import Client as HttpClient
from django.utils import timezone

import contactcenter.connectors.adapters as adapters_module
from contactcenter.models import Connector
from tests.messengers.conftest import make_connector, ok, provisioning_answer

pytestmark = pytest.mark.django_db

NEW = "https://new-domain.example"


@pytest.fixture
def recorder(monkeypatch, settings):
    """The platforms, recording every request; `refuse_viber` makes Viber refuse the token."""

    class Recorder:
        requests: list[httpx.Request] = []
        refuse_viber = False

        def handle(self, request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            if self.refuse_viber and "chatapi.viber.com" in str(request.url):
                return ok({"status": 2, "status_message": "invalidAuthToken"})
            return provisioning_answer(request)

        def urls(self) -> list[str]:
            return [str(r.url) for r in self.requests]

    fake = Recorder()
    fake.requests = []
    settings.CONNECTORS_PUBLIC_URL = NEW
    monkeypatch.setattr(
        adapters_module, "_shared_client", httpx.Client(transport=httpx.MockTransport(fake.handle))
    )
    return fake


@pytest.fixture
def channels(line, make_line):
    made = {kind: make_connector(line, kind) for kind in ("telegram", "viber", "whatsapp", "messenger")}
    made["livechat"] = Connector.objects.create(kind="livechat", line=line, name="Site chat")
    made["rest"] = Connector.objects.create(kind="rest", line=line, name="CRM bridge")
    made["off"] = Connector.objects.create(
        kind="instagram",
        line=line,
        name="Paused IG",
        account_id="IG9",
        active=False,
        secrets={"access_token": "t", "app_secret": "s", "verify_token": "v"},
    )
    made["gone"] = Connector.objects.create(
        kind="telegram",
        line=line,
        name="Old bot",
        account_id="999",
        active=False,
        disconnected_at=timezone.now(),
    )
    return made


def run() -> tuple[str, CommandError | None]:
    out = io.StringIO()
    try:
        call_command("connectors_refresh", stdout=out)
    except CommandError as error:
        return out.getvalue(), error
    return out.getvalue(), None


def test_the_command_registers_every_connected_channel_again_and_reports_each(recorder, channels):
    secret = channels["telegram"].secrets["secret_token"]
    recorder.refuse_viber = True

    output, error = run()

    assert error is not None  # a failed channel makes the command fail, after reporting every channel
    lines = output.splitlines()

    def line_of(connector: Connector) -> str:
        [found] = [x for x in lines if f"#{connector.pk} " in x]
        return found

    assert line_of(channels["telegram"]).startswith("ok")
    assert line_of(channels["whatsapp"]).startswith("ok")
    assert line_of(channels["messenger"]).startswith("ok")
    viber = line_of(channels["viber"])
    assert viber.startswith("failed") and viber.split(": ", 1)[1].strip()
    assert line_of(channels["livechat"]).startswith("skipped") and "nothing to register" in line_of(
        channels["livechat"]
    )
    assert line_of(channels["rest"]).startswith("skipped")
    assert line_of(channels["off"]).startswith("skipped") and "switched off" in line_of(channels["off"])
    assert not [x for x in lines if f"#{channels['gone'].pk} " in x]
    assert "3 re-registered, 1 failed, 3 skipped." in output

    [set_webhook] = [r for r in recorder.requests if str(r.url).endswith("/setWebhook")]
    body = json.loads(set_webhook.content)
    assert body["url"] == f"{NEW}/connectors/telegram/{channels['telegram'].uuid}/"
    assert body["secret_token"] == secret
    subscriptions = [u for u in recorder.urls() if "subscribed_apps" in u]
    assert len(subscriptions) == 2  # WhatsApp's business account and Messenger's page
    assert not [u for u in recorder.urls() if "bot999" in u or "IG9" in u]


def test_running_it_twice_registers_the_same_and_changes_no_secret(recorder, channels):
    before = {c.pk: dict(c.secrets) for c in Connector.objects.all()}
    first, error = run()
    assert error is None, first
    count = len(recorder.requests)
    second, error = run()
    assert error is None, second
    assert len(recorder.requests) == 2 * count
    assert first == second
    assert {c.pk: c.secrets for c in Connector.objects.all()} == before


def test_the_button_reregisters_and_reports_each_channel_on_the_page(recorder, channels, admin_user):
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    page = browser.get("/contact-center/")
    assert "Re-register webhooks" in page.content.decode()
    token = page.cookies["csrftoken"].value

    response = browser.post("/contact-center/refresh/", {"csrfmiddlewaretoken": token}, follow=True)

    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert any("webhook registered at " + NEW in m for m in shown)
    assert any("failed" not in m and "skipped, nothing to register" in m for m in shown)
    assert any(f"{NEW}/connectors/telegram/{channels['telegram'].uuid}/" in m for m in shown)
    assert [r for r in recorder.requests if str(r.url).endswith("/setWebhook")]


def test_the_button_needs_csrf_a_post_and_the_right_to_connect_channels(
    recorder, channels, admin_user, make_user
):
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    assert browser.post("/contact-center/refresh/").status_code == 403  # no CSRF token
    assert browser.get("/contact-center/refresh/").status_code == 405
    from tests.access_helpers import drop_default_assignments

    drop_default_assignments()
    plain = HttpClient()
    plain.force_login(make_user("plain", is_staff=True))
    assert plain.post("/contact-center/refresh/").status_code == 403
    assert recorder.requests == []
