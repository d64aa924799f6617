"""The chat list in a real browser: filter, choose a column, open the history, rate from the list."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import Client

from openlines.models import OpenLine
from openlines.session_models import Session
from tests.kpi.factories import add_message, make_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def page(live_server, admin_user, browser):
    client = Client()
    client.force_login(admin_user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    context = browser.new_context(base_url=live_server.url)
    context.add_cookies(
        [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    tab = context.new_page()
    tab.set_default_timeout(10000)
    return tab


def test_filter_choose_a_column_open_history_and_rate(page, admin_user):
    line = OpenLine.objects.create(line_name="Helpdesk")
    alice = make_session(line, client_name="Alice", operator=admin_user)
    boris = make_session(line, client_name="Boris", operator=admin_user)
    add_message(alice, "My order <b>42</b> is late")
    add_message(alice, "Let me check", author_type="agent")

    page.goto("/chats/")
    assert page.locator("tbody tr[data-session]").count() == 2

    page.click("details.kpi-filters > summary")
    page.fill("#id_client", "ali")
    page.click("#apply-filters")
    page.wait_for_url("**/chats/?*client=ali*")
    rows = page.locator("tbody tr[data-session]")
    assert rows.count() == 1 and rows.first.get_attribute("data-session") == str(alice.pk)

    page.click("#gear > summary")
    page.check("input[name=columns][value=line]")
    page.click("#save-columns")
    page.wait_for_selector('th[data-column="line"]')
    assert page.locator('td[data-column="line"]').first.inner_text() == "Helpdesk"
    assert page.locator("tbody tr[data-session]").count() == 1  # the filter survived

    page.click(f'tr[data-session="{alice.pk}"] .kpi-history-button')
    panel = page.locator("#kpi-panel")
    panel.locator(".kpi-message").first.wait_for()
    assert "My order <b>42</b> is late" in panel.inner_text()
    assert "Let me check" in panel.inner_text()

    # The history shows the rating form too: what is typed there survives clicking "rate" on the same row.
    panel.locator("textarea[name=comment_head]").fill("Polite and quick")
    page.click(f'tr[data-session="{alice.pk}"] .kpi-rate-button')
    page.wait_for_load_state("networkidle")
    assert panel.locator("textarea[name=comment_head]").input_value() == "Polite and quick"
    panel.locator("input[name=vote_head][value='4']").check()
    panel.locator(".kpi-rate-form button[type=submit]").click()
    # A locator wait, not wait_for_function: the page's Content-Security-Policy forbids evaluating strings.
    page.locator(f'tr[data-session="{alice.pk}"] .kpi-stars', has_text="4").wait_for()
    alice.refresh_from_db()
    assert (alice.vote_head, alice.comment_head) == (4, "Polite and quick")
    assert Session.objects.get(pk=boris.pk).vote_head == 0
