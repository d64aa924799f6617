"""The line settings form in a real browser: tabs in order, conditional fields, a validation round trip."""

from __future__ import annotations

import re

import pytest

from openlines.default_texts import default_text
from openlines.models import OpenLine

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TAB_TITLES = [
    "Queue",
    "Worktime",
    "Agreement",
    "Auto actions",
    "Quality assessment",
    "Chat bots",
    "Response time KPI",
    "Other",
]


@pytest.fixture
def page(live_server, browser):
    page = browser.new_page()
    page.set_default_timeout(10_000)
    return page


def row(page, name):
    return page.locator(f".form-row.field-{name}")


def log_in(page, live_server):
    page.goto(f"{live_server.url}/admin/login/?next=/admin/openlines/openline/add/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "pw-123456")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/openlines/openline/add/")


def choose_in_autocomplete(page, select_id, text):
    page.locator(f"#{select_id} + .select2 .select2-selection").click()
    page.locator(".select2-dropdown .select2-search__field").fill(text)
    page.locator(".select2-results__option", has_text=text).first.click()


def test_create_a_line_through_the_tabs_with_a_validation_round_trip(
    page, live_server, admin_user, make_user
):
    make_user("agent", first_name="Ann", last_name="Agent", is_staff=True)
    log_in(page, live_server)

    # Tabs in the reference order; only the Queue tab is shown at first, with the agent queue inside it.
    assert page.locator(".ol-tab-button").all_inner_texts() == TAB_TITLES
    assert page.locator("#ol-tab-panel-queue").is_visible()
    assert not page.locator("#ol-tab-panel-worktime").is_visible()
    assert page.locator("#ol-tab-panel-queue #queue-group").is_visible()

    # "To everybody" hides the forwarding time and the per-agent limit.
    assert page.locator("#id_queue_type").input_value() == "all"
    assert not row(page, "queue_time").is_visible()
    assert not row(page, "limit_max_chat").is_visible()
    page.select_option("#id_queue_type", "evenly")
    assert row(page, "queue_time").is_visible()
    assert not row(page, "max_chat").is_visible()
    page.check("#id_limit_max_chat")
    assert row(page, "max_chat").is_visible()
    assert row(page, "type_max_chat").is_visible()
    page.fill("#id_max_chat", "5")

    # CRM: the responsible-person switch disappears with manual creation.
    assert row(page, "crm_transfer_change").is_visible()
    page.select_option("#id_crm_create", "none")
    assert not row(page, "crm_transfer_change").is_visible()

    choose_in_autocomplete(page, "id_queue-0-user", "agent")

    # Worktime block appears only when worktime is on; then an impossible day is refused.
    page.click("#ol-tab-button-worktime")
    assert page.locator("#ol-tab-panel-worktime").is_visible()
    assert not page.locator("#ol-tab-panel-queue").is_visible()
    assert not row(page, "worktime_from").is_visible()
    page.check("#id_worktime_enable")
    assert row(page, "worktime_from").is_visible()
    page.fill("#id_worktime_from", "18:00")
    page.fill("#id_worktime_to", "09:00")
    page.click("input[name=_save]")

    # The form comes back on the tab with the error, the message next to the field.
    page.wait_for_selector(".errornote")
    assert page.locator("#ol-tab-panel-worktime").is_visible()
    assert "ol-has-errors" in page.locator("#ol-tab-button-worktime").get_attribute("class")
    assert "The working day must end after it starts." in row(page, "worktime_to").inner_text()
    assert not OpenLine.objects.exists()

    page.fill("#id_worktime_to", "20:00")
    page.click("input[name=_save]")
    page.wait_for_url(re.compile(r".*/admin/openlines/openline/(#.*)?$"))

    line = OpenLine.objects.get()
    assert (line.queue_type, line.max_chat, line.crm_create) == ("evenly", 5, "none")
    assert (line.worktime_from.hour, line.worktime_to.hour) == (18, 20)
    assert line.queue.get().user.username == "agent"
    assert page.locator("#result_list").get_by_text(line.line_name).is_visible()


def test_texts_follow_the_language_unless_written_by_hand(page, live_server, admin_user):
    log_in(page, live_server)
    page.click("#ol-tab-button-auto-actions")
    page.fill("#id_close_text", "Bye from us!")
    page.click("#ol-tab-button-other")

    page.select_option("#id_language_id", "ru")

    assert page.locator("#id_welcome_message_text").input_value() == default_text("welcome", "ru")
    assert page.locator("#id_close_text").input_value() == "Bye from us!"
    assert page.locator("#ol-language-note").is_visible()


def test_tabs_hide_what_does_not_apply(page, live_server, admin_user):
    log_in(page, live_server)

    # Per-agent name/position/photo in the queue only matter when clients see queue entries.
    assert not page.locator("th.column-display_name").is_visible()
    assert not row(page, "default_operator_name").is_visible()
    page.select_option("#id_operator_data", "queue")
    assert page.locator("th.column-display_name").is_visible()
    assert page.locator("#id_queue-0-work_position").is_visible()
    page.select_option("#id_operator_data", "hide")
    assert row(page, "default_operator_name").is_visible()
    assert not page.locator("th.column-display_name").is_visible()

    page.click("#ol-tab-button-quality")
    assert row(page, "vote_enable_time_limit").is_visible()
    assert not row(page, "vote_time_limit").is_visible()
    page.check("#id_vote_enable_time_limit")
    assert row(page, "vote_time_limit").is_visible()
    page.uncheck("#id_vote_message")
    assert not row(page, "vote_message_1_text").is_visible()
    assert not row(page, "vote_time_limit").is_visible()

    page.click("#ol-tab-button-bots")
    assert not row(page, "welcome_bot").is_visible()
    page.check("#id_welcome_bot_enable")
    assert row(page, "welcome_bot_time").is_visible()
