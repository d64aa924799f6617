"""The Contact Center page in a real browser: connect a Telegram bot to a new line, see it, disconnect it
(the channel stays, disconnected, with its history)."""

from __future__ import annotations

import pytest

from contactcenter.models import Connector
from openlines.models import OpenLine
from tests.access_helpers import fast_passwords  # noqa: F401

TOKEN = "123456789:AAHsecretTOKENvalue-abcdefghijkl"

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


def test_connect_a_telegram_bot_to_a_new_line_then_disconnect_it(page, live_server):
    tile = page.locator('li[data-kind="telegram"]')
    assert "Not connected to any line" in tile.inner_text()
    tile.get_by_role("link", name="Connect").click()

    page.select_option("#id_line", "new")
    page.fill("#id_new_line_name", "Telegram support")
    page.fill("#id_name", "Shop bot")
    page.fill("#id_bot_token", "not a token")
    page.click("input[type=submit]")
    # The server refuses the token next to the field and does not echo what was typed.
    assert "does not look like a Telegram bot token" in page.locator(".field-bot_token").inner_text()
    assert page.input_value("#id_bot_token") == ""

    page.fill("#id_bot_token", TOKEN)
    page.click("input[type=submit]")
    line = OpenLine.objects.get(line_name="Telegram support")
    page.wait_for_url(f"**/admin/openlines/openline/{line.pk}/change/")
    assert "Shop bot is connected" in page.content()

    page.goto(f"{live_server.url}/contact-center/")
    tile = page.locator('li[data-kind="telegram"]')
    assert "Shop bot" in tile.inner_text() and "Telegram support" in tile.inner_text()
    tile.get_by_role("link", name="Edit").click()
    assert "•••• set" in page.content() and TOKEN not in page.content()

    page.goto(f"{live_server.url}/contact-center/")
    page.locator('li[data-kind="telegram"]').get_by_role("link", name="Disconnect").click()
    assert Connector.objects.exists()
    assert "Nothing is deleted" in page.content()
    page.get_by_role("button", name="Yes, disconnect").click()
    page.wait_for_url("**/contact-center/")
    # The channel stays, disconnected, with its history; it can be connected again.
    assert Connector.objects.get().is_disconnected
    tile = page.locator('li[data-kind="telegram"]')
    assert "disconnected" in tile.inner_text() and "Connect again" in tile.inner_text()
