"""A new line is usable without touching anything, with the reference's defaults and texts in its language."""

from __future__ import annotations

import datetime
import re

import pytest

from openlines.default_texts import default_text
from openlines.models import OpenLine
from openlines.validation import validate_line_settings
from tests.openlines.conftest import ADD_URL, change_url, errors_of, line_form_data

pytestmark = pytest.mark.django_db

REFERENCE_DEFAULTS = {
    "queue_type": "all",
    "queue_time": 60,
    "check_available": False,
    "max_chat": 0,
    "type_max_chat": "answered",
    "operator_data": "profile",
    "crm": True,
    "crm_chat_tracker": True,
    "crm_create": "lead",
    "crm_create_third": True,
    "crm_source": "create",
    "crm_forward": True,
    "crm_transfer_change": True,
    "worktime_enable": False,
    "worktime_from": datetime.time(9, 0),
    "worktime_to": datetime.time(18, 30),
    "worktime_dayoff": [],
    "worktime_holidays": [],
    "worktime_dayoff_rule": "none",
    "agreement_message": False,
    "agreement": None,
    "welcome_message": True,
    "send_welcome_each_session": False,
    "use_welcome_form": True,
    "welcome_form_delay": True,
    "no_answer_time": 60,
    "no_answer_rule": "none",
    "close_rule": "text",
    "full_close_time": 10,
    "auto_close_time": 14400,
    "auto_close_rule": "none",
    "watch_typing": True,
    "vote_message": True,
    "vote_before_finish": True,
    "vote_closing_delay": False,
    "vote_time_limit": 0,
    "welcome_bot_enable": False,
    "welcome_bot_join": "always",
    "welcome_bot_time": 600,
    "welcome_bot_left": "queue",
    "kpi_first_answer_time": 0,
    "kpi_first_answer_alert": False,
    "kpi_further_answer_time": 0,
    "kpi_further_answer_alert": False,
    "kpi_check_operator_activity": False,
    "active": True,
    "confirm_close": False,
    "language_id": "en",
}


def test_line_saved_from_an_untouched_add_form_has_the_reference_defaults(
    admin_client_logged_in, agent, admin_user
):
    response = admin_client_logged_in.post(ADD_URL, line_form_data(queue=[{"user": agent}]))

    assert response.status_code == 302, errors_of(response)
    line = OpenLine.objects.get()
    line.refresh_from_db()
    actual = {name: getattr(line, name) for name in REFERENCE_DEFAULTS}
    assert actual == REFERENCE_DEFAULTS
    assert line.line_name == "Open line"
    assert line.worktime_timezone == "UTC"
    assert line.welcome_message_text == default_text("welcome", "en")
    assert line.close_text == default_text("close", "en")
    assert line.vote_message_2_text.endswith("Send: 1 - good, 0 - bad")
    assert line.modified_by == admin_user
    assert re.fullmatch(r"[0-9a-f]{12}", line.code)
    assert list(line.queue.values_list("user_id", flat=True)) == [agent.pk]


def test_add_form_suggests_the_next_free_line_name(admin_client_logged_in):
    OpenLine.objects.create(line_name="Open line")
    OpenLine.objects.create(line_name="Open line 2")

    response = admin_client_logged_in.get(ADD_URL)

    assert response.context["adminform"].form["line_name"].value() == "Open line 3"


def test_line_created_in_the_orm_passes_validation_unchanged():
    line = OpenLine.objects.create(line_name="Plain")
    assert validate_line_settings({}, instance=line) == {}
    assert line.welcome_message_text == default_text("welcome", "en")


def test_lines_get_distinct_codes():
    codes = {OpenLine.objects.create(line_name=f"L{i}").code for i in range(20)}
    assert len(codes) == 20


def test_new_line_in_czech_gets_czech_texts(admin_client_logged_in, agent):
    # The form shows the site language's texts; choosing Czech and saving swaps the untouched ones.
    data = line_form_data(queue=[{"user": agent}], language_id="cs", close_text="Na shledanou!")
    response = admin_client_logged_in.post(ADD_URL, data)

    assert response.status_code == 302, errors_of(response)
    line = OpenLine.objects.get()
    assert line.welcome_message_text == default_text("welcome", "cs")
    assert line.no_answer_text == default_text("no_answer", "cs")
    assert line.vote_message_1_text == default_text("vote_message_1_text", "cs")
    assert line.close_text == "Na shledanou!"


def test_changing_the_language_swaps_untouched_texts_and_keeps_written_ones(admin_client_logged_in, agent):
    line = OpenLine.objects.create(line_name="Support", welcome_message_text="Hi, it's Ann from Support.")
    line.queue.create(user=agent)

    response = admin_client_logged_in.post(change_url(line), line_form_data(line, language_id="pl"))

    assert response.status_code == 302, errors_of(response)
    line.refresh_from_db()
    assert line.language_id == "pl"
    assert line.welcome_message_text == "Hi, it's Ann from Support."
    assert line.auto_close_text == default_text("auto_close", "pl")
    assert line.kpi_first_answer_text == default_text("kpi_first_answer", "pl")


def test_client_text_falls_back_to_the_language_default_when_empty():
    line = OpenLine.objects.create(line_name="Support", language_id="it", close_text="")
    assert line.client_text("close") == default_text("close", "it")
    assert line.client_text("line_inactive") == default_text("line_inactive", "it")
