"""The chat list's filter form and the supervisor rating form: the one place their input is validated."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from contactcenter.connectors.kinds import ConnectorKind
from contactcenter.numbers import id_from_text
from kpi.columns import COLUMNS
from openlines.models import ChatBot, OpenLine
from openlines.session_models import Session, SessionStatus, StatusGroup

YES_NO = [("", _("Any")), ("Y", _("Yes")), ("N", _("No"))]
COMMENT_MAX_LENGTH = 10000
PAGE_SIZES = [20, 50, 100]
PAGE_MAX = 10**9


class IdsChoiceField(forms.ModelMultipleChoiceField):
    """Objects chosen by id; a value that is no 64-bit id is invalid here, before any query (a database
    refuses such a number in `IN (...)`, which Django does not guard as it guards `=`)."""

    def _check_values(self, value: Any) -> Any:
        for pk in value if isinstance(value, list | tuple) else ():
            if id_from_text(str(pk).strip()) is None:
                raise forms.ValidationError(
                    self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": pk}
                )
        return super()._check_values(value)  # type: ignore[misc]


def _sort_choices() -> list[tuple[str, str]]:
    choices: list[tuple[str, str]] = []
    for column in COLUMNS:
        if column.order_by:
            choices.append((column.key, f"{column.label} ↑"))
            choices.append((f"-{column.key}", f"{column.label} ↓"))
    return choices


class ChatListFilterForm(forms.Form):
    line = IdsChoiceField(label=_("Line"), queryset=OpenLine.objects.order_by("line_name"), required=False)
    mode = forms.ChoiceField(label=_("Type"), choices=[("", _("Any")), *Session.Mode.choices], required=False)
    created_from = forms.DateField(label=_("Created from"), required=False)
    created_to = forms.DateField(label=_("Created to"), required=False)
    closed_from = forms.DateField(label=_("Closed from"), required=False)
    closed_to = forms.DateField(label=_("Closed to"), required=False)
    operator = IdsChoiceField(
        label=_("Agent"),
        queryset=get_user_model().objects.filter(is_staff=True).order_by("username"),
        required=False,
    )
    bot = IdsChoiceField(label=_("Bot"), queryset=ChatBot.objects.all(), required=False)
    client = forms.CharField(label=_("Client name"), max_length=255, required=False)
    channel = forms.MultipleChoiceField(label=_("Channel"), choices=ConnectorKind.choices, required=False)
    session_id = forms.IntegerField(label=_("Conversation ID"), min_value=1, required=False)
    extra_url = forms.CharField(label=_("Source page"), max_length=2000, required=False)
    status_group = forms.MultipleChoiceField(label=_("Status"), choices=StatusGroup.choices, required=False)
    status = forms.TypedMultipleChoiceField(
        label=_("Detailed status"), choices=SessionStatus.choices, coerce=int, required=False
    )
    crm = forms.ChoiceField(label=_("CRM"), choices=YES_NO, required=False)
    worktime = forms.ChoiceField(label=_("Business hours"), choices=YES_NO, required=False)
    spam = forms.ChoiceField(label=_("Spam"), choices=YES_NO, required=False)
    late = forms.ChoiceField(label=_("Late answers (KPI)"), choices=YES_NO, required=False)
    message_count_min = forms.IntegerField(label=_("Messages from"), min_value=0, required=False)
    message_count_max = forms.IntegerField(label=_("Messages to"), min_value=0, required=False)
    vote = forms.TypedMultipleChoiceField(
        label=_("Client rating"),
        choices=[(5, _("Like")), (1, _("Dislike")), (0, _("Not rated"))],
        coerce=int,
        required=False,
    )
    vote_head = forms.TypedMultipleChoiceField(
        label=_("Supervisor rating"),
        choices=[(0, _("Not rated")), *[(n, "★" * n) for n in range(5, 0, -1)]],
        coerce=int,
        required=False,
    )
    sort = forms.ChoiceField(label=_("Sort"), choices=_sort_choices, required=False)
    # Bounded so that the row offset stays a 64-bit number, which is all the database takes.
    page = forms.IntegerField(min_value=1, max_value=PAGE_MAX, required=False, widget=forms.HiddenInput)
    per_page = forms.TypedChoiceField(
        label=_("Per page"), choices=[(n, n) for n in PAGE_SIZES], coerce=int, required=False
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for low, high in (("created_from", "created_to"), ("closed_from", "closed_to")):
            if data.get(low) and data.get(high) and data[low] > data[high]:
                self.add_error(high, _("The end date is before the start date."))
        low_count, high_count = data.get("message_count_min"), data.get("message_count_max")
        if low_count is not None and high_count is not None and low_count > high_count:
            self.add_error("message_count_max", _("The maximum is below the minimum."))
        return data

    def filters(self) -> dict[str, Any]:
        """The valid part of the input: a bad field is reported next to itself and ignored, not a 500."""
        self.is_valid()
        return {key: value for key, value in self.cleaned_data.items() if value not in (None, "", [])}


class HeadVoteForm(forms.Form):
    """Stars, a comment, or both (reference §3.2 `session.head.vote`: at least one of the two)."""

    vote_head = forms.TypedChoiceField(
        label=_("Rating"),
        choices=[(n, "★" * n) for n in range(1, 6)],
        coerce=int,
        required=False,
        empty_value=None,
    )
    comment_head = forms.CharField(
        label=_("Comment"), max_length=COMMENT_MAX_LENGTH, required=False, widget=forms.Textarea
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("vote_head") is None and not (cleaned.get("comment_head") or "").strip():
            raise forms.ValidationError(_("Give a rating, write a comment, or both."))
        return cleaned
