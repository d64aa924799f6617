"""Every settings rule as an administrator meets it in the admin form (the API uses the same module)."""

from __future__ import annotations

import pytest

from contactcenter.models import Department
from openlines.models import Agreement, ChatBot, OpenLine, QueueMember
from openlines.services.agreements import agreement_revise
from tests.openlines.conftest import ADD_URL, change_url, errors_of, line_form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def post_line(admin_client_logged_in, agent):
    """Post the add form with one agent in the queue and the given overrides; returns the response."""

    def post(**overrides):
        queue = overrides.pop("queue", [{"user": agent}])
        return admin_client_logged_in.post(ADD_URL, line_form_data(queue=queue, **overrides))

    return post


def assert_saved(response):
    assert response.status_code == 302, errors_of(response)
    return OpenLine.objects.get()


def assert_refused(response, field, fragment):
    errors = errors_of(response)
    assert field in errors, errors
    assert any(fragment in message for message in errors[field]), errors[field]
    assert not OpenLine.objects.exists()


# --- Queue tab --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [60, 180, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 28800, 43200])
def test_queue_time_options_from_1_minute_to_12_hours_are_accepted(post_line, seconds):
    line = assert_saved(post_line(queue_type="evenly", queue_time=seconds))
    assert line.queue_time == seconds


def test_queue_time_above_12_hours_is_refused(post_line):
    assert_refused(post_line(queue_type="evenly", queue_time=86400), "queue_time", "1 minute to 12 hours")


def test_queue_time_below_1_minute_is_refused(post_line):
    assert_refused(post_line(queue_type="evenly", queue_time=30), "queue_time", "1 minute to 12 hours")


def test_unknown_distribution_mode_is_refused_with_the_valid_choices(post_line):
    response = post_line(queue_type="random")
    assert_refused(
        response, "queue_type", "evenly (Evenly), strictly (Exactly as enqueued), all (To everybody)"
    )


def test_max_chat_above_1000_is_refused(post_line):
    assert_refused(
        post_line(queue_type="evenly", limit_max_chat=True, max_chat=1001), "max_chat", "from 0 to 1000"
    )


def test_max_chat_limit_switched_on_needs_a_number_from_1(post_line):
    assert_refused(
        post_line(queue_type="evenly", limit_max_chat=True, max_chat=0), "max_chat", "from 1 to 1000"
    )


def test_max_chat_limit_switched_on_is_stored(post_line):
    line = assert_saved(
        post_line(queue_type="evenly", limit_max_chat=True, max_chat=1000, type_max_chat="closed")
    )
    assert (line.max_chat, line.type_max_chat) == (1000, "closed")


def test_max_chat_limit_switched_off_stores_no_limit(post_line):
    line = assert_saved(post_line(queue_type="evenly", limit_max_chat=False, max_chat=25))
    assert line.max_chat == 0


def test_unknown_type_max_chat_is_refused(post_line):
    assert_refused(
        post_line(queue_type="evenly", limit_max_chat=True, max_chat=5, type_max_chat="open"),
        "type_max_chat",
        "not a valid choice",
    )


def test_empty_queue_is_refused(post_line):
    assert_refused(post_line(queue=[]), "queue", "Add at least one agent or department")


def test_department_without_employees_is_refused(post_line):
    empty = Department.objects.create(name="Night shift")
    assert_refused(post_line(queue=[{"department": empty}]), "queue", "Night shift has no employees")


def test_department_of_only_heads_with_heads_excluded_is_refused(post_line, make_user):
    boss = make_user("boss")
    board = Department.objects.create(name="Board", head=boss)
    boss.profile.departments.add(board)
    assert_refused(
        post_line(queue=[{"department": board, "exclude_heads": True}]), "queue", "Board has no employees"
    )


def test_same_agent_twice_in_the_queue_is_refused(post_line, agent):
    assert_refused(
        post_line(queue=[{"user": agent, "sort": 1}, {"user": agent, "sort": 2}]), "queue", "twice"
    )


def test_queue_of_only_deactivated_users_is_refused(post_line, make_user):
    gone = make_user("gone", is_active=False)
    assert_refused(post_line(queue=[{"user": gone}]), "queue", "no active employees")


def test_queue_row_with_user_and_department_is_refused(post_line, agent):
    support = Department.objects.create(name="Support")
    agent.profile.departments.add(support)
    response = post_line(queue=[{"user": agent, "department": support}])
    errors = errors_of(response)
    assert any("not both" in m for m in errors["queue-0-__all__"]), errors


def test_queue_of_users_and_departments_is_stored_in_order(post_line, agent, make_user):
    support = Department.objects.create(name="Support")
    make_user("bea").profile.departments.add(support)
    line = assert_saved(post_line(queue=[{"department": support, "sort": 20}, {"user": agent, "sort": 10}]))
    assert [(m.user_id, m.department_id) for m in line.queue.all()] == [(agent.pk, None), (None, support.pk)]


def test_new_queue_rows_without_order_go_to_the_end(admin_client_logged_in, agent, make_user):
    line = OpenLine.objects.create(line_name="Sales")
    QueueMember.objects.create(line=line, user=agent, sort=50)
    newcomer = make_user("newcomer")
    data = line_form_data(line)
    data.update({"queue-TOTAL_FORMS": "2", "queue-1-user": str(newcomer.pk), "queue-1-sort": ""})
    response = admin_client_logged_in.post(change_url(line), data)
    assert response.status_code == 302, errors_of(response)
    assert list(line.queue.values_list("user_id", flat=True)) == [agent.pk, newcomer.pk]


def test_hidden_operator_needs_a_name_to_show(post_line):
    assert_refused(
        post_line(operator_data="hide", default_operator_name=""), "default_operator_name", "Enter the text"
    )


def test_crm_source_is_required_when_records_are_created(post_line):
    assert_refused(post_line(crm=True, crm_create="lead", crm_source=" "), "crm_source", '"create"')


def test_crm_source_is_not_required_when_records_are_created_manually(post_line):
    line = assert_saved(post_line(crm=True, crm_create="none", crm_source=""))
    assert line.crm_create == "none"


# --- Worktime tab -----------------------------------------------------------------------------------


def test_end_of_working_day_before_its_start_is_refused(post_line):
    response = post_line(worktime_enable=True, worktime_from="18:00", worktime_to="09:00")
    assert_refused(response, "worktime_to", "must end after it starts")


def test_end_of_working_day_equal_to_its_start_is_refused(post_line):
    response = post_line(worktime_enable=True, worktime_from="09:00", worktime_to="09:00")
    assert_refused(response, "worktime_to", "must end after it starts")


def test_working_hours_are_not_checked_while_worktime_is_off(post_line):
    line = assert_saved(post_line(worktime_enable=False, worktime_from="18:00", worktime_to="09:00"))
    assert not line.worktime_enable


def test_working_hours_are_stored_as_times(post_line):
    import datetime

    line = assert_saved(
        post_line(
            worktime_enable=True,
            worktime_timezone="Europe/Prague",
            worktime_from="08:30",
            worktime_to="17:15",
            worktime_dayoff=["SA", "SU"],
        )
    )
    line.refresh_from_db()
    assert (line.worktime_from, line.worktime_to) == (datetime.time(8, 30), datetime.time(17, 15))
    assert line.worktime_dayoff == ["SA", "SU"]
    assert line.worktime_timezone == "Europe/Prague"


def test_malformed_time_is_refused(post_line):
    assert_refused(post_line(worktime_enable=True, worktime_from="25:00"), "worktime_from", "HH:MM")


def test_time_zone_outside_the_iana_list_is_refused(post_line):
    assert_refused(
        post_line(worktime_enable=True, worktime_timezone="Mars/Olympus"), "worktime_timezone", "IANA"
    )


def test_time_zone_is_required_when_worktime_is_on(post_line):
    assert_refused(post_line(worktime_enable=True, worktime_timezone=""), "worktime_timezone", "time zone")


def test_unknown_weekday_is_refused(post_line):
    assert_refused(
        post_line(worktime_enable=True, worktime_dayoff=["SA", "XX"]), "worktime_dayoff", "not a weekday"
    )


def test_holiday_31_february_is_refused(post_line):
    assert_refused(
        post_line(worktime_enable=True, worktime_holidays="01.01, 31.02"), "worktime_holidays", "31.02"
    )


def test_holiday_in_another_format_is_refused(post_line):
    assert_refused(post_line(worktime_enable=True, worktime_holidays="12/25"), "worktime_holidays", "DD.MM")


def test_holidays_are_stored_as_sorted_dd_mm_including_29_february(post_line):
    line = assert_saved(post_line(worktime_enable=True, worktime_holidays="25.12, 1.1; 29.02 25.12"))
    assert line.worktime_holidays == ["01.01", "29.02", "25.12"]


def test_off_hours_text_is_required_when_it_is_sent(post_line):
    response = post_line(worktime_enable=True, worktime_dayoff_rule="text", worktime_dayoff_text="")
    assert_refused(response, "worktime_dayoff_text", "Enter the text")


def test_off_hours_rule_applies_with_availability_check_too(post_line):
    response = post_line(check_available=True, worktime_dayoff_rule="text", worktime_dayoff_text="  ")
    assert_refused(response, "worktime_dayoff_text", "Enter the text")


# --- Agreement tab ----------------------------------------------------------------------------------


def test_consent_notice_needs_an_agreement(post_line):
    assert_refused(post_line(agreement_message=True, agreement=""), "agreement", "Choose the agreement")


def test_consent_notice_with_agreement_is_stored(post_line):
    agreement = Agreement.objects.create(title="Privacy", text="We keep your data safe.")
    line = assert_saved(post_line(agreement_message=True, agreement=agreement.pk))
    assert line.agreement == agreement


def test_replaced_agreement_version_cannot_be_chosen(post_line):
    old = Agreement.objects.create(title="Privacy", text="v1")
    old.text = "v2"
    agreement_revise(agreement=old)
    first = Agreement.objects.get(version=1)
    response = post_line(agreement_message=True, agreement=first.pk)
    assert "agreement" in errors_of(response)


# --- Auto actions tab -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("switch", "text_field"),
    [
        ({"welcome_message": True}, "welcome_message_text"),
        ({"no_answer_rule": "text"}, "no_answer_text"),
        ({"close_rule": "text"}, "close_text"),
        ({"auto_close_rule": "text"}, "auto_close_text"),
    ],
)
def test_automatic_text_is_required_when_it_is_sent(post_line, switch, text_field):
    assert_refused(post_line(**switch, **{text_field: ""}), text_field, "Enter the text")


@pytest.mark.parametrize(
    ("switch", "text_field"),
    [
        ({"welcome_message": False}, "welcome_message_text"),
        ({"no_answer_rule": "none"}, "no_answer_text"),
        ({"close_rule": "none"}, "close_text"),
        ({"auto_close_rule": "none"}, "auto_close_text"),
    ],
)
def test_automatic_text_may_be_empty_when_it_is_not_sent(post_line, switch, text_field):
    line = assert_saved(post_line(**switch, **{text_field: ""}))
    assert getattr(line, text_field) == ""


@pytest.mark.parametrize("minutes", [0, 1, 2, 5, 10, 30, 60, 1440])
def test_full_close_time_options_are_accepted(post_line, minutes):
    assert assert_saved(post_line(full_close_time=minutes)).full_close_time == minutes


@pytest.mark.parametrize("minutes", [3, 15, 120, -1, 99999])
def test_full_close_time_outside_the_options_is_refused(post_line, minutes):
    assert_refused(
        post_line(full_close_time=minutes), "full_close_time", "0, 1, 2, 5, 10, 30, 60 or 1440 minutes"
    )


def test_no_answer_time_outside_the_options_is_refused(post_line):
    assert_refused(post_line(no_answer_time=100), "no_answer_time", "1 minute to 12 hours")


@pytest.mark.parametrize("seconds", [3600, 14400, 28800, 86400, 172800, 604800, 2678400])
def test_auto_close_time_options_are_accepted(post_line, seconds):
    assert assert_saved(post_line(auto_close_time=seconds)).auto_close_time == seconds


def test_auto_close_time_outside_the_options_is_refused(post_line):
    assert_refused(post_line(auto_close_time=60), "auto_close_time", "1 hour to 1 month")


# --- Quality assessment tab -------------------------------------------------------------------------


def test_rating_time_limit_switched_on_needs_a_duration(post_line):
    response = post_line(vote_message=True, vote_enable_time_limit=True, vote_time_limit=0)
    assert_refused(response, "vote_time_limit", "1 to 7 days or 30 days")


@pytest.mark.parametrize("seconds", [86400, 172800, 259200, 345600, 432000, 604800, 2592000])
def test_rating_time_limit_of_1_to_7_or_30_days_is_accepted(post_line, seconds):
    line = assert_saved(post_line(vote_message=True, vote_enable_time_limit=True, vote_time_limit=seconds))
    assert line.vote_time_limit == seconds


def test_rating_time_limit_outside_the_options_is_refused(post_line):
    response = post_line(vote_message=True, vote_enable_time_limit=True, vote_time_limit=8 * 86400)
    assert_refused(response, "vote_time_limit", "1 to 7 days or 30 days")


def test_rating_time_limit_switched_off_means_no_limit(post_line):
    line = assert_saved(post_line(vote_message=True, vote_enable_time_limit=False, vote_time_limit=86400))
    assert line.vote_time_limit == 0


def test_live_chat_rating_texts_longer_than_100_characters_are_refused(post_line):
    assert_refused(post_line(vote_message_1_like="x" * 101), "vote_message_1_like", "at most 100 characters")


def test_rating_texts_are_required_when_ratings_are_asked(post_line):
    assert_refused(
        post_line(vote_message=True, vote_message_2_text=""), "vote_message_2_text", "Enter the text"
    )


def test_rating_texts_may_be_empty_when_ratings_are_off(post_line):
    assert assert_saved(post_line(vote_message=False, vote_message_2_text="")).vote_message_2_text == ""


# --- Chat bots tab ----------------------------------------------------------------------------------


def test_welcome_bot_switched_on_needs_a_bot(post_line):
    assert_refused(post_line(welcome_bot_enable=True, welcome_bot=""), "welcome_bot", "Choose the chat bot")


def test_switched_off_bot_cannot_greet_clients(post_line):
    bot = ChatBot.objects.create(name="Greeter", active=False)
    response = post_line(welcome_bot_enable=True, welcome_bot=bot.pk)
    assert "welcome_bot" in errors_of(response)


def test_welcome_bot_settings_are_stored(post_line):
    bot = ChatBot.objects.create(name="Greeter")
    line = assert_saved(
        post_line(
            welcome_bot_enable=True,
            welcome_bot=bot.pk,
            welcome_bot_time=0,
            welcome_bot_join="first",
            welcome_bot_left="close",
        )
    )
    assert (line.welcome_bot, line.welcome_bot_time, line.welcome_bot_join, line.welcome_bot_left) == (
        bot,
        0,
        "first",
        "close",
    )


def test_bot_transfer_time_outside_the_options_is_refused(post_line):
    bot = ChatBot.objects.create(name="Greeter")
    response = post_line(welcome_bot_enable=True, welcome_bot=bot.pk, welcome_bot_time=3600)
    assert_refused(response, "welcome_bot_time", "or never")


# --- Response time KPI tab --------------------------------------------------------------------------


def test_kpi_alert_needs_someone_to_notify(post_line):
    response = post_line(kpi_first_answer_time=60, kpi_first_answer_alert=True, kpi_first_answer_list=[])
    assert_refused(response, "kpi_first_answer_list", "Choose who gets the notification")


def test_kpi_alert_needs_a_time_limit(post_line, agent):
    response = post_line(
        kpi_further_answer_time=0, kpi_further_answer_alert=True, kpi_further_answer_list=[agent]
    )
    assert_refused(response, "kpi_further_answer_time", "Set a time limit")


def test_kpi_time_above_a_week_is_refused(post_line):
    assert_refused(post_line(kpi_first_answer_time=8 * 86400), "kpi_first_answer_time", "from 0 to 604800")


def test_kpi_settings_are_stored(post_line, agent):
    line = assert_saved(
        post_line(
            kpi_first_answer_time=45,
            kpi_first_answer_alert=True,
            kpi_first_answer_list=[agent],
            kpi_further_answer_time=300,
        )
    )
    assert (line.kpi_first_answer_time, line.kpi_further_answer_time) == (45, 300)
    assert list(line.kpi_first_answer_list.all()) == [agent]


# --- Other tab --------------------------------------------------------------------------------------


def test_line_without_a_name_is_refused(post_line):
    assert_refused(post_line(line_name=""), "line_name", "Enter the line's name")


def test_unknown_language_is_refused(post_line):
    assert_refused(post_line(language_id="de"), "language_id", "not a valid choice")


def test_max_chat_is_ignored_while_its_limit_is_switched_off(post_line):
    line = assert_saved(post_line(queue_type="evenly", limit_max_chat=False, max_chat="lots"))
    assert line.max_chat == 0
