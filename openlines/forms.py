"""Admin forms for open lines. The rules themselves live in `openlines.validation`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from openlines.models import Agreement, ChatBot, OpenLine, QueueMember, Weekday
from openlines.validation import (
    UI_SWITCHES,
    parse_line_settings,
    queue_entry_error,
    timezone_names,
    validate_canned_shortcuts,
    validate_chat_bot,
    validate_queue,
)

# The tabs of the settings page, in the reference's order, and the fieldsets (blocks) inside each.
# Each entry: (tab id, tab title, [(block title, [fields])]).
TABS: list[tuple[str, Any, list[tuple[Any, list[str]]]]] = [
    (
        "queue",
        _("Queue"),
        [
            (
                _("Queue"),
                [
                    "queue_type",
                    "queue_time",
                    "check_available",
                    "limit_max_chat",
                    "max_chat",
                    "type_max_chat",
                ],
            ),
            (_("Agent information"), ["operator_data", "default_operator_name", "default_operator_avatar"]),
            (
                _("CRM"),
                [
                    "crm",
                    "crm_chat_tracker",
                    "crm_create",
                    "crm_create_second",
                    "crm_create_third",
                    "crm_source",
                    "crm_forward",
                    "crm_transfer_change",
                ],
            ),
        ],
    ),
    (
        "worktime",
        _("Worktime"),
        [
            (
                _("Worktime"),
                [
                    "worktime_enable",
                    "worktime_timezone",
                    "worktime_from",
                    "worktime_to",
                    "worktime_dayoff",
                    "worktime_holidays",
                    "worktime_dayoff_rule",
                    "worktime_dayoff_text",
                ],
            )
        ],
    ),
    ("agreement", _("Agreement"), [(_("Agreement"), ["agreement_message", "agreement"])]),
    (
        "auto-actions",
        _("Auto actions"),
        [
            (
                _("Auto actions"),
                [
                    "welcome_message",
                    "welcome_message_text",
                    "send_welcome_each_session",
                    "use_welcome_form",
                    "welcome_form_delay",
                    "ignore_welcome_form_responsible",
                    "no_answer_time",
                    "no_answer_rule",
                    "no_answer_text",
                    "close_rule",
                    "close_text",
                    "full_close_time",
                    "auto_close_time",
                    "auto_close_rule",
                    "auto_close_text",
                    "canned_responses",
                    "watch_typing",
                ],
            )
        ],
    ),
    (
        "quality",
        _("Quality assessment"),
        [
            (
                _("Quality assessment"),
                [
                    "vote_message",
                    "vote_before_finish",
                    "vote_closing_delay",
                    "vote_enable_time_limit",
                    "vote_time_limit",
                    "vote_message_1_text",
                    "vote_message_1_like",
                    "vote_message_1_dislike",
                    "vote_message_2_text",
                    "vote_message_2_like",
                    "vote_message_2_dislike",
                ],
            )
        ],
    ),
    (
        "bots",
        _("Chat bots"),
        [
            (
                _("Chat bots"),
                [
                    "welcome_bot_enable",
                    "welcome_bot",
                    "welcome_bot_join",
                    "welcome_bot_time",
                    "welcome_bot_left",
                ],
            )
        ],
    ),
    (
        "kpi",
        _("Response time KPI"),
        [
            (
                _("Response time KPI"),
                [
                    "kpi_first_answer_time",
                    "kpi_first_answer_alert",
                    "kpi_first_answer_list",
                    "kpi_first_answer_text",
                    "kpi_further_answer_time",
                    "kpi_further_answer_alert",
                    "kpi_further_answer_list",
                    "kpi_further_answer_text",
                    "kpi_check_operator_activity",
                ],
            )
        ],
    ),
    (
        "other",
        _("Other"),
        [(_("Other"), ["line_name", "active", "confirm_close", "language_id", "mail_from"])],
    ),
]

FORM_FIELDS = [name for _tab, _title, blocks in TABS for _block, names in blocks for name in names]
MODEL_FORM_FIELDS = [name for name in FORM_FIELDS if name not in UI_SWITCHES]


def admin_fieldsets() -> list[Any]:
    """TABS as ModelAdmin fieldsets; the `ol-tab-<id>` class tells the script which tab a block is on."""
    return [
        (block, {"classes": ["ol-tab", f"ol-tab-{tab}"], "fields": names})
        for tab, _title, blocks in TABS
        for block, names in blocks
    ]


class OpenLineForm(forms.ModelForm):
    limit_max_chat = forms.BooleanField(
        label=_("Limit simultaneous enquiries submitted to an agent"),
        required=False,
        help_text=_("Hidden for “To everybody”. Off means no limit on this line."),
    )
    vote_enable_time_limit = forms.BooleanField(
        label=_("Limit the time the client can rate a conversation"),
        required=False,
    )
    worktime_timezone = forms.CharField(label=_("Time zone"), required=False)
    worktime_from = forms.CharField(
        label=_("Working day starts"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    worktime_to = forms.CharField(
        label=_("Working day ends"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    worktime_dayoff = forms.Field(
        label=_("Days off"),
        required=False,
        widget=forms.CheckboxSelectMultiple(choices=Weekday.choices),
        help_text=_("Weekdays on which nobody works."),
    )
    worktime_holidays = forms.CharField(
        label=_("Holidays"),
        required=False,
        help_text=_("Dates in DD.MM format separated by commas, repeating every year, e.g. 01.01, 25.12."),
    )

    class Meta:
        model = OpenLine
        fields = MODEL_FORM_FIELDS
        widgets = {
            name: forms.Textarea(attrs={"rows": 3, "cols": 60})
            for name in (
                "welcome_message_text",
                "no_answer_text",
                "close_text",
                "auto_close_text",
                "worktime_dayoff_text",
                "vote_message_2_text",
                "vote_message_2_like",
                "vote_message_2_dislike",
                "kpi_first_answer_text",
                "kpi_further_answer_text",
            )
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        line = self.instance
        # The language the texts were written in before this edit (see services.lines.line_retranslate_texts).
        self.original_language = line.language_id
        self.fields["worktime_timezone"].widget = forms.Select(
            choices=[("", "---------")] + [(name, name) for name in timezone_names()]
        )
        self._use_rules_for_choices()
        # Whether a value is needed depends on other settings; openlines.validation decides and says why.
        for field in self.fields.values():
            field.required = False
        if "language_id" in self.fields:
            self.fields["language_id"].widget.attrs["data-replaced-message"] = _(
                "%(count)s automatic texts switched to the new language; texts you wrote are kept."
            )
        if "agreement" in self.fields:
            field = self.fields["agreement"]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = Agreement.objects.filter(next_version__isnull=True)
        if "welcome_bot" in self.fields:
            field = self.fields["welcome_bot"]
            assert isinstance(field, forms.ModelChoiceField)
            field.queryset = ChatBot.objects.filter(active=True) | ChatBot.objects.filter(
                pk=line.welcome_bot_id or 0
            )
        self.initial.setdefault("limit_max_chat", bool(line.max_chat))
        self.initial.setdefault("vote_enable_time_limit", bool(line.vote_time_limit))
        # Declared fields get no initial from a new instance by themselves.
        for name in ("worktime_timezone", "worktime_from", "worktime_to"):
            self.initial.setdefault(name, getattr(line, name))
        self.initial["worktime_holidays"] = ", ".join(line.worktime_holidays or [])
        self.initial["worktime_dayoff"] = list(line.worktime_dayoff or [])
        if line._state.adding and not self.initial.get("line_name"):
            from openlines.selectors import next_line_name

            self.initial["line_name"] = next_line_name()

    def _use_rules_for_choices(self) -> None:
        """Choice and number fields render as usual but leave the check to `openlines.validation`.

        That keeps one set of messages for the form and the API ("Choose one of 0, 1, 2, 5 … minutes").
        """
        for name in list(self.fields):
            try:
                model_field = OpenLine._meta.get_field(name)
            except Exception:  # noqa: S112 - form-only fields have no model field
                continue
            if not isinstance(model_field, models.Field):
                continue
            widget: forms.Widget
            if model_field.choices:
                widget = forms.Select(choices=[(str(v), label) for v, label in model_field.choices])
            elif isinstance(model_field, models.PositiveIntegerField):
                widget = forms.NumberInput(attrs={"min": 0, "step": 1})
            else:
                continue
            old = self.fields[name]
            self.fields[name] = forms.CharField(
                label=old.label, help_text=old.help_text, required=False, initial=old.initial, widget=widget
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        data = {
            name: cleaned[name]
            for name in FORM_FIELDS
            if name in cleaned and not isinstance(self.fields[name], forms.FileField)
        }
        values, errors = parse_line_settings(data, instance=self.instance)
        for name, messages in errors.items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
        for name, value in values.items():
            if name in self.fields and name not in errors and name not in UI_SWITCHES:
                cleaned[name] = value
        return cleaned


class QueueMemberForm(forms.ModelForm):
    class Meta:
        model = QueueMember
        fields = ["user", "department", "exclude_heads", "sort", "display_name", "work_position", "avatar"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Blank for new rows: they go to the end of the queue (see QueueMemberFormSet.clean).
        self.fields["sort"].required = False
        if self.instance.pk is None:
            self.fields["sort"].initial = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        message = queue_entry_error({"user": cleaned.get("user"), "department": cleaned.get("department")})
        if message:
            raise ValidationError(message)
        return cleaned


class QueueMemberFormSet(forms.BaseInlineFormSet):
    """The queue inline; the queue as a whole must pass `openlines.validation.validate_queue`."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = [
            form
            for form in self.forms
            if getattr(form, "cleaned_data", None)
            and not (self.can_delete and form.cleaned_data.get("DELETE"))
        ]
        # Rows without an order go to the end, in the order they were added.
        last = max((form.cleaned_data.get("sort") or 0 for form in kept), default=0)
        for form in kept:
            if form.cleaned_data.get("sort") is None:
                last += 10
                form.cleaned_data["sort"] = last
                form.instance.sort = last
        entries = [
            {
                "user": form.cleaned_data.get("user"),
                "department": form.cleaned_data.get("department"),
                "exclude_heads": form.cleaned_data.get("exclude_heads", False),
            }
            for form in sorted(kept, key=lambda f: f.cleaned_data["sort"])
        ]
        errors = validate_queue(entries)
        if errors:
            raise ValidationError(errors)


def _https_urls(field: models.Field, **kwargs: Any) -> forms.Field | None:
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


class ChatBotForm(forms.ModelForm):
    class Meta:
        model = ChatBot
        fields = ["name", "kind", "active", "webhook_url", "secret", "script"]
        formfield_callback = _https_urls

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name, messages in validate_chat_bot(cleaned).items():
            for message in messages:
                self.add_error(name if name in self.fields else None, message)
        return cleaned


class CannedResponseFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        shortcuts = [
            form.cleaned_data.get("shortcut") or ""
            for form in self.forms
            if getattr(form, "cleaned_data", None)
            and not (self.can_delete and form.cleaned_data.get("DELETE"))
        ]
        errors = validate_canned_shortcuts(shortcuts)
        if errors:
            raise ValidationError(errors)
