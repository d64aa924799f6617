"""The widget in a real browser on a line that takes no visitors: it shows the server's notice in the
line's language and locks the composer."""

from __future__ import annotations

import pytest

from openlines.models import OpenLine

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_widget_shows_the_notice_and_locks_the_composer(live_server, browser, make_line):
    make_line(line_name="Podpora", code="off")
    OpenLine.objects.filter(code="off").update(active=False, language_id="cs")
    page = browser.new_page()
    page.goto(f"{live_server.url}/livechat/demo/?line=off")
    page.locator("cc-livechat .launcher").click()
    status = page.locator("cc-livechat .status")
    status.wait_for(state="visible")
    assert status.inner_text() == "Tento chat teď není k dispozici. Kontaktujte nás prosím jinak."
    assert page.locator("cc-livechat .title").inner_text() == "Podpora"
    assert page.locator("cc-livechat textarea.input").is_disabled()
    assert page.locator("cc-livechat button.attach").is_disabled()
    page.close()
