"""The same rules for a JSON client: validate_line_settings, parse_line_settings and the line services."""

from __future__ import annotations

import datetime

import pytest

from contactcenter.models import Department
from openlines.models import Agreement, OpenLine
from openlines.services.agreements import agreement_revise
from openlines.services.lines import line_create, line_update
from openlines.validation import parse_line_settings, validate_line_settings

pytestmark = pytest.mark.django_db


def test_valid_json_settings_have_no_errors(agent):
    data = {
        "line_name": "Support",
        "queue_type": "strictly",
        "queue_time": 300,
        "check_available": "Y",
        "max_chat": 5,
        "worktime_enable": True,
        "worktime_timezone": "Europe/Warsaw",
        "worktime_from": "08:00",
        "worktime_to": "16:30",
        "worktime_dayoff": "SA,SU",
        "worktime_holidays": ["01.01", "03.05"],
        "queue": [{"user": agent.pk}],
    }
    assert validate_line_settings(data) == {}


def test_reference_export_values_are_understood(agent):
    values, errors = parse_line_settings(
        {
            "line_name": "X",
            "crm": "N",
            "worktime_from": "9",
            "worktime_to": "18.30",
            "queue": [{"ENTITY_TYPE": "user", "ENTITY_ID": agent.pk}],
        }
    )
    assert errors == {}
    assert values["crm"] is False
    assert (values["worktime_from"], values["worktime_to"]) == (datetime.time(9), datetime.time(18, 30))
    assert values["queue"][0]["user"] == agent


def test_legacy_queue_of_user_ids_is_understood(agent):
    values, errors = parse_line_settings({"line_name": "X", "queue": [agent.pk]})
    assert errors == {}
    assert values["queue"][0]["user"] == agent


@pytest.mark.parametrize(
    ("data", "field", "fragment"),
    [
        ({"queue_time": 43201}, "queue_time", "1 minute to 12 hours"),
        ({"queue_time": "soon"}, "queue_time", "whole number"),
        ({"queue_time": True}, "queue_time", "whole number"),
        ({"max_chat": -1}, "max_chat", "from 0 to 1000"),
        ({"full_close_time": 1441}, "full_close_time", "1440 minutes"),
        ({"vote_time_limit": 3600}, "vote_time_limit", "1 to 7 days or 30 days"),
        ({"vote_enable_time_limit": True, "vote_time_limit": 0}, "vote_time_limit", "1 to 7 days"),
        ({"check_available": "maybe"}, "check_available", "Y or N"),
        ({"worktime_dayoff": ["SAT"]}, "worktime_dayoff", "not a weekday"),
        ({"worktime_holidays": "30.02"}, "worktime_holidays", "30.02"),
        ({"worktime_timezone": "Europe/Atlantis"}, "worktime_timezone", "IANA"),
        ({"operator_data": "anonymous"}, "operator_data", "profile (Use employee user profile)"),
        ({"agreement": 999}, "agreement", "There is no consent agreement with id 999"),
        ({"kpi_first_answer_list": [999]}, "kpi_first_answer_list", "Unknown users: 999"),
        ({"kpi_first_answer_list": 0.0}, "kpi_first_answer_list", "list of user ids"),
        ({"kpi_first_answer_list": {"user": 1}}, "kpi_first_answer_list", "list of user ids"),
        ({"colour": "red"}, "colour", "Unknown setting"),
        ({"queue": "everyone"}, "queue", "list of users and departments"),
        ({"queue": [{"user": 1, "department": 1}]}, "queue", "either a user or a department"),
        ({"queue": [{"user": 999}]}, "queue", "Queue entry 1: There is no user with id 999"),
    ],
)
def test_bad_values_are_refused_with_a_message_for_the_field(data, field, fragment):
    errors = validate_line_settings({"line_name": "X", **data})
    assert field in errors, errors
    assert any(fragment in message for message in errors[field]), errors[field]


def test_partial_update_is_checked_against_the_stored_settings():
    line = OpenLine.objects.create(
        line_name="X", worktime_enable=True, worktime_from="17:00", worktime_to="20:00"
    )
    assert validate_line_settings({"worktime_to": "16:00"}, instance=line) == {
        "worktime_to": ["The working day must end after it starts."]
    }
    assert validate_line_settings({"worktime_enable": False, "worktime_to": "16:00"}, instance=line) == {}


def test_switching_on_the_bot_of_a_line_without_bot_is_refused():
    line = OpenLine.objects.create(line_name="X")
    assert "welcome_bot" in validate_line_settings({"welcome_bot_enable": "Y"}, instance=line)


def test_old_agreement_version_is_refused():
    agreement = Agreement.objects.create(title="Privacy", text="v1")
    first_id = agreement.pk
    agreement.text = "v2"
    agreement_revise(agreement=agreement)
    errors = validate_line_settings({"line_name": "X", "agreement_message": True, "agreement": first_id})
    assert errors == {"agreement": ["This agreement has a newer version; choose the current one."]}


def test_line_create_stores_parsed_values_queue_and_texts_in_the_line_language(agent, admin_user):
    support = Department.objects.create(name="Support")
    agent.profile.departments.add(support)
    values, errors = parse_line_settings(
        {
            "language_id": "vi",
            "queue_type": "evenly",
            "kpi_first_answer_list": [admin_user.pk],
            "queue": [{"department": support.pk, "exclude_heads": "Y"}, {"user": admin_user.pk}],
        }
    )
    assert errors == {}
    queue = values.pop("queue")

    line = line_create(values=values, queue=queue, by=admin_user)

    assert line.line_name == "Open line"
    assert line.welcome_message_text.startswith("Xin chào")
    assert line.modified_by == admin_user
    assert list(line.kpi_first_answer_list.all()) == [admin_user]
    assert [(m.department_id, m.user_id, m.exclude_heads) for m in line.queue.all()] == [
        (support.pk, None, True),
        (None, admin_user.pk, False),
    ]


def test_line_update_replaces_the_queue_and_keeps_other_settings(agent, make_user):
    line = line_create(values={"line_name": "Support", "queue_time": 300}, queue=[{"user": agent}])
    bea = make_user("bea")

    line_update(line=line, values={"active": False}, queue=[{"user": bea}, {"user": agent}])

    line.refresh_from_db()
    assert (line.active, line.queue_time) == (False, 300)
    assert list(line.queue.values_list("user_id", flat=True)) == [bea.pk, agent.pk]
