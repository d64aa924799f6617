"""The one place for the rules of an open line's settings (reference §1.1-§1.10).

Both the admin form (`openlines.forms.OpenLineForm.clean`) and the JSON API call this module, so a rule
written here holds everywhere. Entry points:

- `validate_line_settings(data, *, instance=None) -> dict[str, list[str]]`: field name -> messages;
  an empty dict means the settings are valid.
- `parse_line_settings(data, *, instance=None) -> (values, errors)`: the same check, also returning the
  normalised Python values to store (times as `datetime.time`, holidays as sorted `DD.MM` strings,
  foreign keys as objects, `max_chat` forced to 0 when the limit switch is off, ...).
- `validate_queue(entries) -> list[str]`: the queue rules (also reached through the `queue` key).

`data` may hold Python values (what a Django form cleans) or JSON values (what an API receives):
booleans as true/false or the reference's "Y"/"N"; times as "HH:MM" (the reference's dotted hours
"9" / "18.30" are accepted as an import format); weekdays and holidays as lists or comma-separated
strings; related objects as instances or ids. Keys missing from `data` keep the `instance`'s values
(or a new line's defaults), so a partial update is checked against the whole resulting configuration.

Two keys are switches of the reference UI that are not stored: `limit_max_chat` (off means
`max_chat = 0`) and `vote_enable_time_limit` (off means `vote_time_limit = 0`). When given and on, the
limit must be set (1-1000 enquiries; 1 to 30 days).

Fields that only apply to another choice (`VISIBILITY`, also used by the form's JavaScript to hide them)
are still checked for their own format, but their cross-field requirements (e.g. a text must not be
empty when its rule sends it) only apply when they are in effect.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, time
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _

from contactcenter.models import Department
from openlines.models import (
    AUTO_CLOSE_TIME_CHOICES,
    FULL_CLOSE_TIME_CHOICES,
    VOTE_TIME_LIMIT_CHOICES,
    WAIT_TIME_CHOICES,
    WELCOME_BOT_TIME_CHOICES,
    ChatBot,
    OpenLine,
    Weekday,
)
from openlines.outbound_guard import outbound_url_validate

FieldErrors = dict[str, list[str]]

MAX_CHAT_LIMIT = 1000  # reference: the UI caps MAX_CHAT at 1000, the global per-agent cap
KPI_TIME_LIMIT = 7 * 86400  # our choice: a custom KPI limit above a week is surely a typo
INT_LIMIT = 2147483647

# Fields the settings consist of (everything but identity and audit columns) plus the UI-only switches.
# `session_priority` and `auto_expire_time` are kept as columns but are no settings: the engine gives them
# no effect (the reference does not say what they do; docs/line-settings.md), so neither the form nor the
# API offers them.
INERT_FIELDS = {"session_priority", "auto_expire_time"}
NON_SETTING_FIELDS = {"id", "code", "created_at", "modified_at", "modified_by", *INERT_FIELDS}
UI_SWITCHES = ("limit_max_chat", "vote_enable_time_limit")
SWITCHED = {"limit_max_chat": "max_chat", "vote_enable_time_limit": "vote_time_limit"}
QUEUE_KEY = "queue"


def setting_fields() -> list[models.Field]:
    return [
        f
        for f in OpenLine._meta.get_fields()
        if isinstance(f, models.Field)
        and f.concrete
        and not f.auto_created
        and f.name not in NON_SETTING_FIELDS
    ]


@functools.cache
def setting_names() -> tuple[str, ...]:
    return tuple(f.name for f in setting_fields())


@functools.cache
def timezone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


# When each field is in effect ("visible"): a list of alternatives; an alternative holds when every
# named field has one of the listed values. Fields not listed always apply. Shared with the form's JS.
_NOT_ALL = ["evenly", "strictly"]
_ON = [True]
VISIBILITY: dict[str, list[dict[str, list[Any]]]] = {
    "queue_time": [{"queue_type": _NOT_ALL}],
    "limit_max_chat": [{"queue_type": _NOT_ALL}],
    "max_chat": [{"queue_type": _NOT_ALL, "limit_max_chat": _ON}],
    "type_max_chat": [{"queue_type": _NOT_ALL, "limit_max_chat": _ON}],
    "default_operator_name": [{"operator_data": ["hide"]}],
    "default_operator_avatar": [{"operator_data": ["hide"]}],
    "crm_chat_tracker": [{"crm": _ON}],
    "crm_create": [{"crm": _ON}],
    "crm_create_second": [{"crm": _ON, "crm_create": ["deal"]}],
    "crm_create_third": [{"crm": _ON, "crm_create": ["deal"]}],
    "crm_source": [{"crm": _ON, "crm_create": ["lead", "deal"]}],
    "crm_forward": [{"crm": _ON}],
    "crm_transfer_change": [{"crm": _ON, "crm_create": ["lead", "deal"]}],
    "worktime_timezone": [{"worktime_enable": _ON}],
    "worktime_from": [{"worktime_enable": _ON}],
    "worktime_to": [{"worktime_enable": _ON}],
    "worktime_dayoff": [{"worktime_enable": _ON}],
    "worktime_holidays": [{"worktime_enable": _ON}],
    # Reference §1.4: the off-hours block shows when working time is customised or availability is checked.
    "worktime_dayoff_rule": [{"worktime_enable": _ON}, {"check_available": _ON}],
    "worktime_dayoff_text": [
        {"worktime_enable": _ON, "worktime_dayoff_rule": ["text"]},
        {"check_available": _ON, "worktime_dayoff_rule": ["text"]},
    ],
    "agreement": [{"agreement_message": _ON}],
    "welcome_message_text": [{"welcome_message": _ON}],
    "send_welcome_each_session": [{"welcome_message": _ON}],
    "welcome_form_delay": [{"use_welcome_form": _ON}],
    "no_answer_text": [{"no_answer_rule": ["text"]}],
    "close_text": [{"close_rule": ["text"]}],
    "auto_close_text": [{"auto_close_rule": ["text"]}],
    "vote_before_finish": [{"vote_message": _ON}],
    "vote_closing_delay": [{"vote_message": _ON}],
    "vote_enable_time_limit": [{"vote_message": _ON}],
    "vote_time_limit": [{"vote_message": _ON, "vote_enable_time_limit": _ON}],
    "vote_message_1_text": [{"vote_message": _ON}],
    "vote_message_1_like": [{"vote_message": _ON}],
    "vote_message_1_dislike": [{"vote_message": _ON}],
    "vote_message_2_text": [{"vote_message": _ON}],
    "vote_message_2_like": [{"vote_message": _ON}],
    "vote_message_2_dislike": [{"vote_message": _ON}],
    "welcome_bot": [{"welcome_bot_enable": _ON}],
    "welcome_bot_join": [{"welcome_bot_enable": _ON}],
    "welcome_bot_time": [{"welcome_bot_enable": _ON}],
    "welcome_bot_left": [{"welcome_bot_enable": _ON}],
    "kpi_first_answer_list": [{"kpi_first_answer_alert": _ON}],
    "kpi_first_answer_text": [{"kpi_first_answer_alert": _ON}],
    "kpi_further_answer_list": [{"kpi_further_answer_alert": _ON}],
    "kpi_further_answer_text": [{"kpi_further_answer_alert": _ON}],
}


def field_applies(name: str, values: Mapping[str, Any]) -> bool:
    """Whether `name` is in effect for these (complete, parsed) settings; see VISIBILITY."""
    alternatives = VISIBILITY.get(name)
    if not alternatives:
        return True
    return any(all(values.get(k) in allowed for k, allowed in alt.items()) for alt in alternatives)


# Texts that must not be empty while in effect: sending an empty message is never what was meant.
REQUIRED_WHEN_APPLIES = (
    "welcome_message_text",
    "no_answer_text",
    "close_text",
    "auto_close_text",
    "worktime_dayoff_text",
    "vote_message_1_text",
    "vote_message_1_like",
    "vote_message_1_dislike",
    "vote_message_2_text",
    "vote_message_2_like",
    "vote_message_2_dislike",
    "kpi_first_answer_text",
    "kpi_further_answer_text",
    "default_operator_name",
)


class _Invalid(Exception):
    """Internal signal carrying the message for one field."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _choice_message(name: str) -> str:
    messages = {
        "queue_time": _("Choose a time from the list: 1 minute to 12 hours."),
        "no_answer_time": _("Choose a time from the list: 1 minute to 12 hours."),
        "full_close_time": _("Choose one of 0, 1, 2, 5, 10, 30, 60 or 1440 minutes."),
        "auto_close_time": _("Choose a timeout from the list: 1 hour to 1 month."),
        "vote_time_limit": _("Choose 1 to 7 days or 30 days, or no limit."),
        "welcome_bot_time": _("Choose 1, 3, 5, 10, 15 or 30 minutes, or never."),
    }
    return str(messages[name])


INT_CHOICES: dict[str, list[int]] = {
    "queue_time": [v for v, _label in WAIT_TIME_CHOICES],
    "no_answer_time": [v for v, _label in WAIT_TIME_CHOICES],
    "full_close_time": [v for v, _label in FULL_CLOSE_TIME_CHOICES],
    "auto_close_time": [v for v, _label in AUTO_CLOSE_TIME_CHOICES],
    "vote_time_limit": [v for v, _label in VOTE_TIME_LIMIT_CHOICES],
    "welcome_bot_time": [v for v, _label in WELCOME_BOT_TIME_CHOICES],
}

INT_RANGES: dict[str, tuple[int, int]] = {
    "max_chat": (0, MAX_CHAT_LIMIT),
    "kpi_first_answer_time": (0, KPI_TIME_LIMIT),
    "kpi_further_answer_time": (0, KPI_TIME_LIMIT),
    "category_id": (0, INT_LIMIT),
}

_TRUE = {"y", "yes", "true", "1", "on"}
_FALSE = {"n", "no", "false", "0", "off", ""}


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _Invalid(_("Enter Y or N (true or false)."))


def _parse_int(value: Any) -> int:
    if isinstance(value, bool):
        raise _Invalid(_("Enter a whole number."))
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise _Invalid(_("Enter a whole number."))


_DOTTED_HOURS = re.compile(r"^(\d{1,2})(?:\.(\d{1,2}))?$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def _parse_time(value: Any) -> time:
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    if isinstance(value, str):
        text = value.strip()
        match = _CLOCK.match(text) or _DOTTED_HOURS.match(text)
        if match:
            hour, minute = int(match.group(1)), int(match.group(2) or 0)
            if 0 <= hour <= 23 and 0 <= minute <= 59:
                return time(hour, minute)
    raise _Invalid(_("Enter a time as HH:MM, e.g. 09:00."))


def _split_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [item for item in re.split(r"[\s,;]+", value) if item]
    if isinstance(value, Iterable):
        return [str(item).strip() for item in value if str(item).strip()]
    raise _Invalid(_("Enter a list."))


def _parse_weekdays(value: Any) -> list[str]:
    days = [d.upper() for d in _split_list(value)]
    unknown = [d for d in days if d not in Weekday.values]
    if unknown:
        raise _Invalid(
            _("“%(value)s” is not a weekday; use MO, TU, WE, TH, FR, SA, SU.") % {"value": unknown[0]}
        )
    return [d for d in Weekday.values if d in days]


_HOLIDAY = re.compile(r"^(\d{1,2})\.(\d{1,2})$")


def _parse_holidays(value: Any) -> list[str]:
    parsed: set[tuple[int, int]] = set()
    for item in _split_list(value):
        match = _HOLIDAY.match(item)
        if not match:
            raise _Invalid(_("“%(value)s” is not a date in DD.MM format, e.g. 25.12.") % {"value": item})
        day, month = int(match.group(1)), int(match.group(2))
        try:
            date(2000, month, day)  # a leap year, so 29.02 is a valid yearly holiday
        except ValueError:
            raise _Invalid(_("“%(value)s” is not a valid date (DD.MM).") % {"value": item}) from None
        parsed.add((month, day))
    return [f"{day:02d}.{month:02d}" for month, day in sorted(parsed)]


def _parse_timezone(value: Any) -> str:
    if not isinstance(value, str):
        raise _Invalid(_("Choose a time zone, e.g. Europe/Berlin."))
    name = value.strip()
    if name and name not in timezone_names():
        raise _Invalid(
            _("“%(value)s” is not a time zone from the IANA list, e.g. Europe/Berlin.") % {"value": name}
        )
    return name


def _parse_text(field: models.Field, value: Any) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _Invalid(_("Enter text."))
    if field.max_length and len(value) > field.max_length:
        raise _Invalid(
            _("Keep it to at most %(limit)d characters (it has %(length)d).")
            % {"limit": field.max_length, "length": len(value)}
        )
    return value


def _parse_choice(field: models.Field, value: Any) -> str:
    allowed = [str(v) for v, _label in field.choices or []]
    if isinstance(value, str) and value in allowed:
        return value
    described = ", ".join(f"{v} ({label})" for v, label in field.choices or [])
    raise _Invalid(
        _("“%(value)s” is not a valid choice. Valid choices: %(choices)s.")
        % {"value": value, "choices": described}
    )


def _parse_object(model: type[models.Model], value: Any) -> models.Model | None:
    if value in (None, ""):
        return None
    if isinstance(value, model):
        return value
    try:
        pk = _parse_int(value)
    except _Invalid:
        raise _Invalid(_("Enter the id of an existing item.")) from None
    obj = model._default_manager.filter(pk=pk).first()
    if obj is None:
        raise _Invalid(
            _("There is no %(model)s with id %(id)s.") % {"model": model._meta.verbose_name, "id": pk}
        )
    return obj


def _parse_users(value: Any) -> list[int]:
    if value is None:
        return []
    if isinstance(value, str | int):
        value = _split_list(str(value))
    if not isinstance(value, list | tuple | models.QuerySet):
        raise _Invalid(_("Enter a list of user ids."))
    ids: list[int] = []
    for item in value:
        ids.append(item.pk if isinstance(item, models.Model) else _parse_int(item))
    existing = set(get_user_model()._default_manager.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [str(i) for i in ids if i not in existing]
    if missing:
        raise _Invalid(_("Unknown users: %(ids)s.") % {"ids": ", ".join(missing)})
    return list(dict.fromkeys(ids))


def _parse_value(name: str, value: Any) -> Any:
    if name in UI_SWITCHES:
        return _parse_bool(value)
    field = OpenLine._meta.get_field(name)
    assert isinstance(field, models.Field)
    if isinstance(field, models.BooleanField):
        return _parse_bool(value)
    if name in INT_CHOICES:
        number = _parse_int(value)
        if number not in INT_CHOICES[name]:
            raise _Invalid(_choice_message(name))
        return number
    if isinstance(field, models.PositiveIntegerField | models.IntegerField):
        number = _parse_int(value)
        low, high = INT_RANGES.get(name, (0, INT_LIMIT))
        if not low <= number <= high:
            raise _Invalid(_("Enter a number from %(low)d to %(high)d.") % {"low": low, "high": high})
        return number
    if field.choices:
        return _parse_choice(field, value)
    if isinstance(field, models.TimeField):
        return _parse_time(value)
    if name == "worktime_dayoff":
        return _parse_weekdays(value)
    if name == "worktime_holidays":
        return _parse_holidays(value)
    if name == "worktime_timezone":
        return _parse_timezone(value)
    if isinstance(field, models.ManyToManyField):
        return _parse_users(value)
    if isinstance(field, models.ForeignKey):
        return _parse_object(field.related_model, value)
    if isinstance(field, models.FileField):
        return value
    return _parse_text(field, value)


def current_values(instance: OpenLine | None) -> dict[str, Any]:
    """Every setting of `instance` (or of a new line with its defaults), in parsed form."""
    line = instance if instance is not None else OpenLine()
    values: dict[str, Any] = {}
    for field in setting_fields():
        if isinstance(field, models.ManyToManyField):
            values[field.name] = (
                list(getattr(line, field.name).values_list("pk", flat=True)) if line.pk else []
            )
        elif isinstance(field, models.ForeignKey):
            values[field.name] = getattr(line, field.name)
        else:
            values[field.name] = getattr(line, field.attname)
    for name in ("worktime_from", "worktime_to"):
        if isinstance(values[name], str):
            values[name] = _parse_time(values[name])
    if instance is None and not values["line_name"]:
        from openlines.selectors import next_line_name

        values["line_name"] = next_line_name()  # what line_create will name it
    values["limit_max_chat"] = bool(values["max_chat"])
    values["vote_enable_time_limit"] = bool(values["vote_time_limit"])
    return values


def _check_rules(values: dict[str, Any], errors: FieldErrors) -> None:
    """Cross-field rules on the complete, parsed settings. Adds to `errors`; skips fields already wrong."""

    def add(name: str, message: str) -> None:
        if name not in errors:
            errors[name] = [message]

    if field_applies("max_chat", values) and values["limit_max_chat"] and values["max_chat"] < 1:
        add("max_chat", _("Enter a limit from 1 to %(limit)d enquiries.") % {"limit": MAX_CHAT_LIMIT})
    if (
        field_applies("vote_time_limit", values)
        and values["vote_enable_time_limit"]
        and not values["vote_time_limit"]
    ):
        add("vote_time_limit", _("Choose how long ratings are accepted: 1 to 7 days or 30 days."))
    if values["worktime_enable"]:
        if not values["worktime_timezone"]:
            add("worktime_timezone", _("Choose the time zone of the working hours."))
        start, end = values["worktime_from"], values["worktime_to"]
        if isinstance(start, time) and isinstance(end, time) and end <= start:
            add("worktime_to", _("The working day must end after it starts."))
    if field_applies("agreement", values):
        agreement = values["agreement"]
        if agreement is None:
            add("agreement", _("Choose the agreement clients are asked to accept."))
        elif not agreement.is_current:
            add("agreement", _("This agreement has a newer version; choose the current one."))
    if field_applies("welcome_bot", values):
        bot = values["welcome_bot"]
        if bot is None:
            add("welcome_bot", _("Choose the chat bot that greets clients."))
        elif not bot.active:
            add("welcome_bot", _("This chat bot is switched off; choose an active one."))
    for kind in ("first", "further"):
        if values[f"kpi_{kind}_answer_alert"]:
            if not values[f"kpi_{kind}_answer_time"]:
                add(f"kpi_{kind}_answer_time", _("Set a time limit to be notified about."))
            if not values[f"kpi_{kind}_answer_list"]:
                add(f"kpi_{kind}_answer_list", _("Choose who gets the notification."))
    if not str(values["line_name"]).strip():
        add("line_name", _("Enter the line's name."))
    if field_applies("crm_source", values) and not str(values["crm_source"]).strip():
        add("crm_source", _('Enter a CRM source id, or "create" for an automatic source.'))
    for name in REQUIRED_WHEN_APPLIES:
        if field_applies(name, values) and not str(values[name] or "").strip():
            add(name, _("Enter the text, or switch off what sends it."))


def parse_line_settings(
    data: Mapping[str, Any], *, instance: OpenLine | None = None
) -> tuple[dict[str, Any], FieldErrors]:
    """Parse and check `data` against `instance`; see the module docstring.

    Returns `(values, errors)`: `values` holds the normalised value of every key given in `data` (and of
    `max_chat` / `vote_time_limit` when a UI switch turned them off); `errors` maps field -> messages.
    A `queue` key, if present, is checked with `validate_queue` and returned normalised as a list of
    `QueueEntry` dicts.
    """
    errors: FieldErrors = {}
    parsed: dict[str, Any] = {}
    known = set(setting_names()) | set(UI_SWITCHES)
    # A UI switch turned off makes the value it guards irrelevant: it is not checked, and stored as 0.
    ignored: set[str] = set()
    for switch, guarded in SWITCHED.items():
        if switch in data:
            try:
                if not _parse_bool(data[switch]):
                    ignored.add(guarded)
            except _Invalid:
                pass
    for name, raw in data.items():
        if name == QUEUE_KEY or name in ignored:
            continue
        if name not in known:
            errors[name] = [_("Unknown setting.")]
            continue
        try:
            parsed[name] = _parse_value(name, raw)
        except _Invalid as exc:
            errors[name] = [exc.message]

    values = {**current_values(instance), **parsed}
    # A UI switch turned off clears what it guards, as the reference UI does.
    if "limit_max_chat" in parsed and not values["limit_max_chat"]:
        values["max_chat"] = parsed["max_chat"] = 0
    if "vote_enable_time_limit" in parsed and not values["vote_enable_time_limit"]:
        values["vote_time_limit"] = parsed["vote_time_limit"] = 0
    if "limit_max_chat" not in parsed:
        values["limit_max_chat"] = bool(values["max_chat"])
    if "vote_enable_time_limit" not in parsed:
        values["vote_enable_time_limit"] = bool(values["vote_time_limit"])
    # A field whose own value is wrong was not merged; check the rules against the stored value instead.
    _check_rules(values, errors)

    if QUEUE_KEY in data:
        try:
            entries = normalise_queue(data[QUEUE_KEY])
        except _Invalid as exc:
            errors[QUEUE_KEY] = [exc.message]
        else:
            queue_errors = validate_queue(entries)
            if queue_errors:
                errors[QUEUE_KEY] = queue_errors
            parsed[QUEUE_KEY] = entries
    for switch in UI_SWITCHES:
        parsed.pop(switch, None)
    return parsed, errors


def validate_line_settings(data: Mapping[str, Any], *, instance: OpenLine | None = None) -> FieldErrors:
    """Check line settings; returns field name -> error messages (empty when valid).

    `data` holds the settings to set (all of them, or only the changed ones for an update of `instance`)
    in Python or JSON form, optionally the UI switches `limit_max_chat` / `vote_enable_time_limit` and a
    `queue` list (see `normalise_queue`). Unknown keys are reported as errors under their own name.
    """
    return parse_line_settings(data, instance=instance)[1]


# --- Queue --------------------------------------------------------------------------------------------

QueueEntry = dict[str, Any]
"""One queue entry: `user` (User) or `department` (Department), `exclude_heads`, `display_name`,
`work_position`. List order is queue order."""


def normalise_queue(raw: Any) -> list[QueueEntry]:
    """Turn API/form input into queue entries; raises _Invalid for a malformed entry.

    Accepted per entry: a user id (the reference's legacy form); `{"user": id}` / `{"department": id}`;
    the reference's `{"ENTITY_TYPE": "user"|"department", "ENTITY_ID": id}`; model instances.
    """
    if raw is None:
        return []
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Iterable):
        raise _Invalid(_("Enter the queue as a list of users and departments."))
    User = get_user_model()
    entries: list[QueueEntry] = []
    for position, item in enumerate(raw, start=1):
        if isinstance(item, Mapping) and "ENTITY_TYPE" in item:
            kind = str(item.get("ENTITY_TYPE", "")).lower()
            item = {kind: item.get("ENTITY_ID")}
        elif not isinstance(item, Mapping):
            item = {"user": item}
        user, department = item.get("user"), item.get("department")
        if (user in (None, "")) == (department in (None, "")):
            raise _Invalid(_("Queue entry %(n)d: choose either a user or a department.") % {"n": position})
        try:
            entry: QueueEntry = {
                "user": _parse_object(User, user),
                "department": _parse_object(Department, department),
                "exclude_heads": _parse_bool(item.get("exclude_heads", False)),
                "display_name": str(item.get("display_name") or "")[:255],
                "work_position": str(item.get("work_position") or "")[:255],
            }
        except _Invalid as exc:
            raise _Invalid(
                _("Queue entry %(n)d: %(error)s") % {"n": position, "error": exc.message}
            ) from None
        entries.append(entry)
    return entries


def queue_entry_error(entry: Mapping[str, Any]) -> str | None:
    """One queue entry stands for exactly one user or one department."""
    has_user, has_department = entry.get("user") is not None, entry.get("department") is not None
    if has_user and has_department:
        return _("Choose either a user or a department, not both.")
    if not has_user and not has_department:
        return _("Choose a user or a department.")
    return None


def validate_queue(entries: Sequence[QueueEntry]) -> list[str]:
    """The queue rules: not empty, no entry twice, departments with employees, someone active."""
    from openlines.selectors import department_queue_user_ids

    if not entries:
        return [_("Add at least one agent or department to the queue.")]
    errors: list[str] = []
    users: set[int] = set()
    departments: set[int] = set()
    everyone: set[int] = set()
    for entry in entries:
        user, department = entry.get("user"), entry.get("department")
        if user is not None:
            if user.pk in users:
                errors.append(_("%(user)s is in the queue twice.") % {"user": user})
            users.add(user.pk)
            everyone.add(user.pk)
        elif department is not None:
            if department.pk in departments:
                errors.append(_("Department %(name)s is in the queue twice.") % {"name": department})
            departments.add(department.pk)
            members = department_queue_user_ids(
                department=department, exclude_heads=bool(entry.get("exclude_heads"))
            )
            if not members:
                errors.append(
                    _("Department %(name)s has no employees to take enquiries.") % {"name": department}
                )
            everyone |= set(members)
    if not errors:
        active = get_user_model()._default_manager.filter(pk__in=everyone, is_active=True).exists()
        if not active:
            errors.append(_("The queue has no active employees; add someone who can take enquiries."))
    return errors


# --- Other objects edited next to lines ---------------------------------------------------------------


def validate_canned_shortcuts(shortcuts: Sequence[str]) -> list[str]:
    """Shortcuts of one canned response list: no spaces, each used once (empty means no shortcut)."""
    errors: list[str] = []
    seen: set[str] = set()
    for shortcut in shortcuts:
        if not shortcut:
            continue
        if re.search(r"\s", shortcut) or shortcut.startswith("/"):
            errors.append(
                _("“%(value)s”: write the shortcut without spaces or a leading slash.") % {"value": shortcut}
            )
        if shortcut in seen:
            errors.append(_("The shortcut “%(value)s” is used twice in this list.") % {"value": shortcut})
        seen.add(shortcut)
    return errors


def validate_chat_bot(data: Mapping[str, Any]) -> FieldErrors:
    """A webhook bot needs an https URL to call; a scripted bot's script must be a JSON object."""
    errors: FieldErrors = {}
    if data.get("kind") == ChatBot.Kind.WEBHOOK:
        url = str(data.get("webhook_url") or "")
        if not url:
            errors["webhook_url"] = [_("Enter the URL the bot's webhook is called at.")]
        elif not url.startswith("https://"):
            errors["webhook_url"] = [_("Use an https:// URL so messages are encrypted on the way.")]
        else:
            try:
                outbound_url_validate(url)
            except ValidationError as error:
                errors["webhook_url"] = error.messages
    script = data.get("script")
    if script is not None and not isinstance(script, dict):
        errors["script"] = [_("The script must be a JSON object.")]
    return errors
