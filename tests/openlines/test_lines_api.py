"""The lines JSON API: CRUD, paging, every validation rule as 400 + field errors, errors never 500."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from contactcenter.models import Connector
from contactcenter.services.api_tokens import api_token_create
from openlines.models import Agreement, ChatBot, OpenLine
from tests.access_helpers import department, drop_default_assignments, fast_passwords, grant, make_line  # noqa: F401

pytestmark = pytest.mark.django_db

URL = "/api/v1/lines/"


@pytest.fixture
def boss(make_user):
    drop_default_assignments()
    user = make_user("boss", is_staff=True)
    grant(user, lines_view="any", lines_modify="any", connectors_modify="any")
    return user


@pytest.fixture
def api(boss):
    _token, key = api_token_create(user=boss, name="tests")
    return Client(headers={"authorization": f"Bearer {key}"})


def post(api, body, url=URL):
    return api.post(url, json.dumps(body), content_type="application/json")


def patch(api, pk, body):
    return api.patch(f"{URL}{pk}/", json.dumps(body), content_type="application/json")


def minimal(user, **values):
    return {"line_name": "Support", "queue": [{"type": "user", "id": user.pk, "sort": 10}], **values}


# --- CRUD ---------------------------------------------------------------------------------------


def test_create_with_name_and_queue_gives_a_usable_line_with_reference_defaults(api, boss):
    response = post(api, minimal(boss))
    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == f"{URL}{body['id']}/"
    assert body["line_name"] == "Support"
    assert body["queue"] == [
        {
            "type": "user",
            "id": boss.pk,
            "sort": 10,
            "exclude_heads": False,
            "display_name": "",
            "work_position": "",
        }
    ]
    assert body["queue_type"] == "all" and body["queue_time"] == 60 and body["full_close_time"] == 10
    assert body["worktime_from"] == "09:00" and body["worktime_to"] == "18:30"
    assert body["welcome_message_text"]
    assert body["modified_by"] == boss.pk
    assert OpenLine.objects.get(pk=body["id"]).modified_by == boss


def test_read_returns_the_same_names_as_the_model(api, boss):
    line = make_line("Read me", users=(boss,))
    body = api.get(f"{URL}{line.pk}/").json()
    from openlines.validation import setting_names

    assert set(setting_names()) <= set(body)
    assert {"id", "code", "queue", "connectors", "created_at", "modified_at", "modified_by"} <= set(body)


def test_patch_changes_only_the_given_settings(api, boss):
    line = make_line("Old", users=(boss,))
    response = patch(api, line.pk, {"line_name": "New", "queue_type": "evenly", "queue_time": 300})
    assert response.status_code == 200, response.content
    line.refresh_from_db()
    assert (line.line_name, line.queue_type, line.queue_time, line.max_chat) == ("New", "evenly", 300, 0)


def test_patch_with_a_queue_replaces_it_in_sort_order(api, boss, make_user):
    first, second = make_user("first"), make_user("second")
    support = department("Support", make_user("member"))
    line = make_line("Line", users=(boss,))
    queue = [
        {"type": "department", "id": support.pk, "sort": 30, "exclude_heads": True},
        {"type": "user", "id": second.pk, "sort": 20},
        {"type": "user", "id": first.pk, "sort": 10, "display_name": "Anna"},
    ]
    body = patch(api, line.pk, {"queue": queue}).json()
    assert [(e["type"], e["id"]) for e in body["queue"]] == [
        ("user", first.pk),
        ("user", second.pk),
        ("department", support.pk),
    ]
    assert body["queue"][0]["display_name"] == "Anna" and body["queue"][2]["exclude_heads"] is True


def test_read_only_fields_in_a_body_are_ignored(api, boss):
    line = make_line("Line", users=(boss,))
    response = patch(
        api, line.pk, {"id": 999, "code": "hacked", "created_at": "2000-01-01", "line_name": "X"}
    )
    assert response.status_code == 200
    line.refresh_from_db()
    assert line.pk != 999 and line.code != "hacked" and line.line_name == "X"


def test_a_number_for_a_list_of_users_is_a_field_error_and_changes_nothing(api, boss):
    # Found by the API fuzz: this was a 500.
    line = make_line("Line", users=(boss,))
    response = patch(api, line.pk, {"kpi_first_answer_list": 0.0, "line_name": "Changed"})
    assert response.status_code == 400
    assert "Enter a list of user ids." in json.dumps(response.json())
    line.refresh_from_db()
    assert line.line_name == "Line"


def test_delete_removes_the_line_with_its_connectors(api, boss):
    line = make_line("Doomed", users=(boss,))
    Connector.objects.create(kind="livechat", line=line, name="chat")
    assert api.delete(f"{URL}{line.pk}/").status_code == 204
    assert not OpenLine.objects.filter(pk=line.pk).exists()
    assert not Connector.objects.exists()


def test_line_json_lists_connectors_without_credentials(api, boss):
    line = make_line("With bot", users=(boss,))
    Connector.objects.create(
        kind="telegram",
        line=line,
        name="Bot",
        account_id="12345",
        secrets={"bot_token": "12345:SECRET-abcdefghijklmnopqrstu"},
    )
    response = api.get(f"{URL}{line.pk}/")
    assert "SECRET" not in response.content.decode()
    [connector] = response.json()["connectors"]
    assert connector["kind"] == "telegram" and connector["account_id"] == "12345"
    assert "secrets" not in connector


def test_list_is_paged_with_limit_and_offset(api, boss):
    for n in range(5):
        make_line(f"L{n}", users=(boss,))
    body = api.get(URL, {"limit": 2, "offset": 1}).json()
    assert body["count"] == 5 and body["limit"] == 2 and body["offset"] == 1
    assert [line["line_name"] for line in body["results"]] == ["L1", "L2"]
    assert api.get(URL).json()["limit"] == 50


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 201}, "limit"),
        ({"limit": 0}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_bad_paging_is_400(api, params, field):
    response = api.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_limit_of_200_is_allowed(api):
    assert api.get(URL, {"limit": 200}).status_code == 200


# --- Errors are JSON, never 500 -----------------------------------------------------------------


def test_unknown_line_is_404(api):
    response = api.get(f"{URL}999999/")
    assert response.status_code == 404
    assert response.json()["errors"]["__all__"]


@pytest.mark.parametrize(
    ("method", "url"), [("put", f"{URL}1/"), ("delete", URL), ("patch", URL), ("post", f"{URL}1/")]
)
def test_unsupported_methods_are_405_with_allow_header(api, boss, method, url):
    make_line("One", users=(boss,))
    response = getattr(api, method)(url, "{}", content_type="application/json")
    assert response.status_code == 405
    assert response["Allow"]
    assert response.json()["errors"]["__all__"]


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", '"text"', "", "\xff\xfe"])
def test_malformed_json_is_400(api, boss, body):
    response = api.post(URL, body.encode("latin-1"), content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"]["__all__"]
    line = make_line("Line", users=(boss,))
    assert (
        api.patch(f"{URL}{line.pk}/", body.encode("latin-1"), content_type="application/json").status_code
        == 400
    )


# --- Validation: every rule of openlines.validation through the API -----------------------------


@pytest.fixture
def objects(make_user):
    old = Agreement.objects.create(title="Terms", text="v1")
    current = Agreement.objects.create(title="Terms", text="v2", version=2, previous=old)
    return {
        "old_agreement": old.pk,
        "agreement": current.pk,
        "inactive_bot": ChatBot.objects.create(name="Off", active=False).pk,
        "bot": ChatBot.objects.create(name="On").pk,
        "inactive_user": make_user("gone", is_active=False).pk,
        "empty_department": department("Empty").pk,
    }


INVALID = [
    # (case id, settings, field that must carry the error)
    ("queue_time_not_an_option", {"queue_type": "evenly", "queue_time": 30}, "queue_time"),
    ("queue_time_above_12_hours", {"queue_type": "evenly", "queue_time": 43201}, "queue_time"),
    ("no_answer_time_not_an_option", {"no_answer_time": 61}, "no_answer_time"),
    ("full_close_time_not_an_option", {"full_close_time": 3}, "full_close_time"),
    ("full_close_time_negative", {"full_close_time": -1}, "full_close_time"),
    ("auto_close_time_not_an_option", {"auto_close_time": 100}, "auto_close_time"),
    ("vote_time_limit_not_an_option", {"vote_time_limit": 3600}, "vote_time_limit"),
    ("welcome_bot_time_not_an_option", {"welcome_bot_time": 7}, "welcome_bot_time"),
    ("max_chat_above_1000", {"queue_type": "evenly", "max_chat": 1001}, "max_chat"),
    ("max_chat_negative", {"max_chat": -1}, "max_chat"),
    (
        "limit_switch_on_without_limit",
        {"queue_type": "evenly", "limit_max_chat": True, "max_chat": 0},
        "max_chat",
    ),
    # Not a setting (it has no effect, docs/line-settings.md): an unknown field.
    ("session_priority_is_no_setting", {"session_priority": 0}, "session_priority"),
    ("auto_expire_time_is_no_setting", {"auto_expire_time": 86400}, "auto_expire_time"),
    ("kpi_first_time_above_a_week", {"kpi_first_answer_time": 7 * 86400 + 1}, "kpi_first_answer_time"),
    ("kpi_further_time_above_a_week", {"kpi_further_answer_time": 7 * 86400 + 1}, "kpi_further_answer_time"),
    ("boolean_not_a_boolean", {"check_available": "maybe"}, "check_available"),
    ("integer_not_a_number", {"max_chat": "ten"}, "max_chat"),
    ("integer_given_as_boolean", {"max_chat": True}, "max_chat"),
    ("queue_type_unknown", {"queue_type": "random"}, "queue_type"),
    ("type_max_chat_unknown", {"type_max_chat": "never"}, "type_max_chat"),
    ("operator_data_unknown", {"operator_data": "photo"}, "operator_data"),
    ("crm_create_unknown", {"crm_create": "contact"}, "crm_create"),
    ("rule_form_is_not_offered", {"no_answer_rule": "form"}, "no_answer_rule"),
    ("welcome_bot_join_unknown", {"welcome_bot_join": "never"}, "welcome_bot_join"),
    ("welcome_bot_left_unknown", {"welcome_bot_left": "never"}, "welcome_bot_left"),
    ("language_unknown", {"language_id": "xx"}, "language_id"),
    ("worktime_from_not_a_time", {"worktime_from": "25:00"}, "worktime_from"),
    (
        "worktime_day_ends_before_start",
        {"worktime_enable": True, "worktime_from": "18:00", "worktime_to": "09:00"},
        "worktime_to",
    ),
    (
        "worktime_day_ends_at_start",
        {"worktime_enable": True, "worktime_from": "09:00", "worktime_to": "09:00"},
        "worktime_to",
    ),
    ("timezone_unknown", {"worktime_timezone": "Mars/Olympus"}, "worktime_timezone"),
    (
        "timezone_missing_with_worktime",
        {"worktime_enable": True, "worktime_timezone": ""},
        "worktime_timezone",
    ),
    ("dayoff_not_a_weekday", {"worktime_dayoff": ["MO", "XX"]}, "worktime_dayoff"),
    ("holiday_impossible_date", {"worktime_holidays": ["31.02"]}, "worktime_holidays"),
    ("holiday_wrong_format", {"worktime_holidays": ["2024-12-25"]}, "worktime_holidays"),
    ("live_chat_rating_text_above_100_chars", {"vote_message_1_text": "x" * 101}, "vote_message_1_text"),
    (
        "rating_time_limit_switch_without_limit",
        {"vote_enable_time_limit": True, "vote_time_limit": 0},
        "vote_time_limit",
    ),
    ("consent_without_agreement", {"agreement_message": True}, "agreement"),
    (
        "consent_with_an_outdated_agreement",
        {"agreement_message": True, "agreement": "old_agreement"},
        "agreement",
    ),
    ("agreement_that_does_not_exist", {"agreement": 999999}, "agreement"),
    ("bot_enabled_without_bot", {"welcome_bot_enable": True}, "welcome_bot"),
    (
        "bot_enabled_with_inactive_bot",
        {"welcome_bot_enable": True, "welcome_bot": "inactive_bot"},
        "welcome_bot",
    ),
    (
        "kpi_alert_without_time",
        {"kpi_first_answer_alert": True, "kpi_first_answer_list": ["boss"]},
        "kpi_first_answer_time",
    ),
    (
        "kpi_alert_without_recipients",
        {"kpi_further_answer_alert": True, "kpi_further_answer_time": 60},
        "kpi_further_answer_list",
    ),
    ("kpi_recipient_unknown", {"kpi_first_answer_list": [999999]}, "kpi_first_answer_list"),
    ("line_name_empty", {"line_name": "  "}, "line_name"),
    (
        "crm_source_empty_while_creating_leads",
        {"crm": True, "crm_create": "lead", "crm_source": ""},
        "crm_source",
    ),
    (
        "greeting_on_with_empty_text",
        {"welcome_message": True, "welcome_message_text": ""},
        "welcome_message_text",
    ),
    ("close_text_rule_with_empty_text", {"close_rule": "text", "close_text": ""}, "close_text"),
    (
        "no_answer_text_rule_with_empty_text",
        {"no_answer_rule": "text", "no_answer_text": ""},
        "no_answer_text",
    ),
    (
        "auto_close_text_rule_with_empty_text",
        {"auto_close_rule": "text", "auto_close_text": " "},
        "auto_close_text",
    ),
    (
        "off_hours_text_rule_with_empty_text",
        {"worktime_enable": True, "worktime_dayoff_rule": "text", "worktime_dayoff_text": ""},
        "worktime_dayoff_text",
    ),
    (
        "hidden_agent_without_name",
        {"operator_data": "hide", "default_operator_name": ""},
        "default_operator_name",
    ),
    ("rating_request_empty", {"vote_message": True, "vote_message_2_text": ""}, "vote_message_2_text"),
    ("unknown_setting", {"favourite_colour": "blue"}, "favourite_colour"),
    ("queue_empty", {"queue": []}, "queue"),
    ("queue_not_a_list", {"queue": "boss"}, "queue"),
    ("queue_entry_unknown_type", {"queue": [{"type": "team", "id": 1}]}, "queue"),
    ("queue_entry_without_id", {"queue": [{"type": "user"}]}, "queue"),
    ("queue_entry_unknown_key", {"queue": [{"type": "user", "id": "boss", "colour": "red"}]}, "queue"),
    ("queue_user_unknown", {"queue": [{"type": "user", "id": 999999}]}, "queue"),
    (
        "queue_user_twice",
        {"queue": [{"type": "user", "id": "boss"}, {"type": "user", "id": "boss"}]},
        "queue",
    ),
    (
        "queue_department_without_employees",
        {"queue": [{"type": "department", "id": "empty_department"}]},
        "queue",
    ),
    ("queue_only_inactive_users", {"queue": [{"type": "user", "id": "inactive_user"}]}, "queue"),
]


def _resolve(value, objects, boss):
    if value == "boss":
        return boss.pk
    if isinstance(value, str) and value in objects:
        return objects[value]
    if isinstance(value, list):
        return [_resolve(v, objects, boss) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, objects, boss) for k, v in value.items()}
    return value


@pytest.mark.parametrize(
    ("payload", "field"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID]
)
def test_invalid_settings_are_refused_on_create_with_the_error_next_to_the_field(
    api, boss, objects, payload, field
):
    response = post(api, minimal(boss, **_resolve(payload, objects, boss)))
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert field in errors, errors
    assert all(isinstance(m, str) and m for m in errors[field])
    assert not OpenLine.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"), [case[1:] for case in INVALID], ids=[case[0] for case in INVALID]
)
def test_invalid_settings_are_refused_on_update_and_nothing_changes(api, boss, objects, payload, field):
    line = make_line("Unchanged", users=(boss,))
    before = api.get(f"{URL}{line.pk}/").json()
    response = patch(api, line.pk, _resolve(payload, objects, boss))
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    after = api.get(f"{URL}{line.pk}/").json()
    assert {k: v for k, v in after.items() if k != "modified_at"} == {
        k: v for k, v in before.items() if k != "modified_at"
    }


def test_create_without_queue_is_refused_next_to_the_queue(api):
    response = post(api, {"line_name": "No queue"})
    assert response.status_code == 400
    assert "queue" in response.json()["errors"]


def test_create_without_name_gets_the_next_free_default_name(api, boss):
    first = post(api, {"queue": [{"type": "user", "id": boss.pk}]})
    second = post(api, {"queue": [{"type": "user", "id": boss.pk}]})
    assert (first.status_code, second.status_code) == (201, 201)
    assert (first.json()["line_name"], second.json()["line_name"]) == ("Open line", "Open line 2")


def test_update_is_checked_against_the_stored_settings(api, boss):
    line = make_line("Line", users=(boss,))
    assert (
        patch(api, line.pk, {"worktime_enable": True, "worktime_timezone": "Europe/Prague"}).status_code
        == 200
    )
    # The stored start is 09:00, so an end of 08:00 is refused although the start was not sent.
    response = patch(api, line.pk, {"worktime_to": "08:00"})
    assert response.status_code == 400
    assert "worktime_to" in response.json()["errors"]


def test_several_errors_are_reported_together(api, boss):
    response = post(api, minimal(boss, queue_time=5, full_close_time=3, language_id="xx"))
    assert {"queue_time", "full_close_time", "language_id"} <= set(response.json()["errors"])


def test_valid_values_in_the_reference_formats_are_accepted(api, boss, objects):
    response = post(
        api,
        minimal(
            boss,
            check_available="Y",
            worktime_enable=True,
            worktime_timezone="Europe/Berlin",
            worktime_from="9",
            worktime_to="18.30",
            worktime_dayoff=["SA", "SU"],
            worktime_holidays=["25.12", "01.01", "29.02"],
            agreement_message=True,
            agreement=objects["agreement"],
            welcome_bot_enable=True,
            welcome_bot=objects["bot"],
            kpi_first_answer_alert=True,
            kpi_first_answer_time=60,
            kpi_first_answer_list=[boss.pk],
        ),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["worktime_from"] == "09:00" and body["worktime_to"] == "18:30"
    assert body["worktime_holidays"] == ["01.01", "29.02", "25.12"]
    assert body["kpi_first_answer_list"] == [boss.pk]


# --- Hostile input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"line_name": "bad\x00name"}, "line_name"),
        ({"queue": [{"type": "user", "id": 1, "display_name": "a\x00b"}]}, "queue"),
        ({"queue": [{"type": "user", "id": 10**20}]}, "queue"),
        ({"kpi_first_answer_list": [10**20]}, "kpi_first_answer_list"),
        ({"agreement": 10**20}, "agreement"),
        ({"max_chat": 10**30}, "max_chat"),
        ({"max_chat": 1.5}, "max_chat"),
        ({"line_name": 42}, "line_name"),
        ({"worktime_dayoff": 5}, "worktime_dayoff"),
        ({"kpi_first_answer_list": {"a": 1}}, "kpi_first_answer_list"),
    ],
)
def test_hostile_values_are_400_not_500(api, boss, body, field):
    response = post(api, {**minimal(boss), **body})
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_deeply_nested_json_is_400(api):
    response = api.post(URL, "[" * 100000 + "]" * 100000, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("url", [f"{URL}99999999999999999999/", f"{URL}-1/"])
def test_out_of_range_ids_are_404(api, url):
    assert api.get(url).status_code == 404


def test_a_body_above_the_upload_limit_is_refused(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post(URL, json.dumps({"line_name": "x" * 2000}), content_type="application/json")
    assert response.status_code == 413
    assert response.json()["errors"]["__all__"]
