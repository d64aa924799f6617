"""Forms of the Contact Center page: connect a channel, edit a connector.

Credentials are entered in password inputs that never render a value back; a stored credential is only
shown as "•••• set", and typing into its input replaces it.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from contactcenter.connectors.kinds import ConnectorKind
from contactcenter.connectors.validation import connector_account_id, connector_errors
from contactcenter.models import Connector
from openlines.models import OpenLine

NEW_LINE = "new"
SECRET_SET_MARK = "••••"  # noqa: S105  (a mask shown instead of a secret)


class _ConnectorFieldsMixin(forms.Form):
    kind: ConnectorKind
    instance: Connector | None = None

    def _add_connector_fields(self) -> None:
        spec = self.kind.spec
        self.fields["name"] = forms.CharField(
            label=_("Name"),
            max_length=255,
            required=False,
            help_text=_("How agents will recognise the channel; the channel's name if empty."),
        )
        if spec.has_account:
            self.fields["account_id"] = forms.CharField(
                label=spec.account_label,
                max_length=255,
                required=spec.is_messenger_account and self.kind != ConnectorKind.TELEGRAM,
                help_text=spec.account_help or "",
            )
        for secret in spec.secret_fields:
            is_set = self.instance is not None and self.instance.secret_is_set(secret.name)
            help_text = str(secret.help_text)
            if is_set:
                help_text = gettext(
                    "%(mark)s set. Type a new value to replace it, or leave empty to keep it."
                ) % {"mark": SECRET_SET_MARK}
            self.fields[secret.name] = forms.CharField(
                label=secret.label,
                required=False,
                strip=True,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                help_text=help_text,
            )

    def secret_values(self) -> dict[str, str]:
        return {s.name: self.cleaned_data.get(s.name) or "" for s in self.kind.spec.secret_fields}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.instance is not None and self.instance.is_disconnected:
            return cleaned  # only its name can change (connector_update); it keeps no credentials
        secrets = self.secret_values()
        stored = self.instance.secrets if self.instance else {}
        account_id = connector_account_id(
            kind=self.kind, account_id=cleaned.get("account_id", ""), secrets={**stored, **secrets}
        )
        for field, messages in connector_errors(
            kind=self.kind, account_id=account_id, secrets=secrets, instance=self.instance
        ).items():
            for message in messages:
                self.add_error(field if field in self.fields else None, message)
        return cleaned


class ConnectForm(_ConnectorFieldsMixin):
    """Connect a channel of one kind to an existing line the user may change, or to a new line."""

    line = forms.ChoiceField(label=_("Open line"))
    new_line_name = forms.CharField(
        label=_("Name of the new line"),
        max_length=255,
        required=False,
        help_text=_("Only for a new line; the connector's name is used if empty."),
    )

    def __init__(
        self,
        *args: Any,
        kind: ConnectorKind,
        lines: QuerySet[OpenLine],
        may_create_line: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.kind = kind
        self.lines = lines
        choices: list[tuple[str, str]] = [(str(line.pk), str(line)) for line in lines]
        if may_create_line:
            choices.insert(0, (NEW_LINE, gettext("Create a new line")))
        else:
            del self.fields["new_line_name"]
        cast(forms.ChoiceField, self.fields["line"]).choices = choices
        self._add_connector_fields()

    def chosen_line(self) -> OpenLine | None:
        """The existing line chosen, or None for "create a new line"."""
        value = self.cleaned_data["line"]
        return None if value == NEW_LINE else self.lines.get(pk=int(value))


class ConnectorEditForm(_ConnectorFieldsMixin):
    active = forms.BooleanField(label=_("Active"), required=False)

    def __init__(self, *args: Any, instance: Connector, **kwargs: Any) -> None:
        kwargs.setdefault(
            "initial", {"name": instance.name, "account_id": instance.account_id, "active": instance.active}
        )
        super().__init__(*args, **kwargs)
        self.instance = instance
        self.kind = ConnectorKind(instance.kind)
        self._add_connector_fields()
