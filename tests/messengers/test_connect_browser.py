"""Connecting WhatsApp in a real browser: the channel page shows what to paste into Meta, and its health."""

from __future__ import annotations

import pytest

from contactcenter.models import Connector, WebhookEvent

ACCESS_TOKEN = "EAAGaccess-token-value"
APP_SECRET = "app-secret-value-123"

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(live_server, admin_user, browser):
    page = browser.new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/contact-center/")
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", "pw-123456")
    page.click("input[type=submit]")
    page.wait_for_url("**/contact-center/")
    return page


def test_connect_whatsapp_shows_callback_url_verify_token_and_health(
    page, live_server, line, accepting_platform
):
    page.locator('li[data-kind="whatsapp"]').get_by_role("link", name="Connect").click()
    page.select_option("#id_line", str(line.pk))
    page.fill("#id_name", "WA support")
    page.fill("#id_account_id", "1061")
    page.fill("#id_access_token", ACCESS_TOKEN)
    page.fill("#id_app_secret", APP_SECRET)
    page.fill("#id_business_account_id", "waba-1")
    page.click("input[type=submit]")
    connector = Connector.objects.get()
    page.wait_for_url(f"**/contact-center/connectors/{connector.pk}/status/")
    callback = page.locator('[data-testid="callback-url"]').inner_text()
    # Meta allows one callback URL per app: the app-level URL, which routes by the account in each event.
    assert callback == "https://cc.example/connectors/whatsapp/"
    channel_url = page.locator('[data-testid="channel-url"]').inner_text()
    assert channel_url == f"https://cc.example/connectors/whatsapp/{connector.uuid}/"
    assert page.locator('[data-testid="verify-token"]').inner_text() == connector.secrets["verify_token"]
    assert page.locator('[data-testid="last-event"]').inner_text() == "No event received yet"
    content = page.content()
    assert ACCESS_TOKEN not in content and APP_SECRET not in content

    WebhookEvent.objects.create(connector=connector, body=b"{}", dedup_key="k", error="<b>boom</b>")
    page.reload()
    assert "No event" not in page.locator('[data-testid="last-event"]').inner_text()
    assert page.locator('[data-testid="last-error"]').inner_text().startswith("<b>boom</b>")
