"""Control characters in text from outside: the one rule every input door applies, and the one for exports.

Doors where a person or a program can be told (the widget, the REST connector, the JSON API, forms) call
`text_accept`: a NUL is refused with a clear error (PostgreSQL cannot store it, and it is never typed by
a person), other C0 control characters but tab, line feed and carriage return are dropped, and so is
DEL. Doors that cannot answer with an error the sender would see (messenger webhooks, which the platform
would retry) and the common ingest path call `text_clean`, which drops NUL as well. Stored text is passed
through `text_clean` when exported, so an export never fails on what an older version stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

# C0 controls but \t \n \r, and DEL: nothing a person types, and XLSX (XML 1.0) cannot hold most of them.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Halves of a surrogate pair on their own (from JSON escapes): no UTF-8 encoder writes them.
_SURROGATES = re.compile("[\ud800-\udfff]")


def text_clean(value: str) -> str:
    """`value` without control characters (tab, line feed and carriage return kept); a lone surrogate
    becomes U+FFFD."""
    if not isinstance(value, str):
        return value
    value = _CONTROLS.sub("", value)
    return _SURROGATES.sub("\ufffd", value)


def data_clean(value: Any) -> Any:
    """`text_clean` on every string (keys too) in a JSON-like value: jsonb refuses NUL as well."""
    if isinstance(value, str):
        return text_clean(value)
    if isinstance(value, dict):
        return {data_clean(key): data_clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [data_clean(item) for item in value]
    return value


def text_accept(value: str, *, field: str = "text") -> str:
    """`text_clean(value)`, but a NUL character is refused: ValidationError {field: [message]}."""
    if isinstance(value, str) and "\x00" in value:
        raise ValidationError({field: [_("The text contains a NUL character, which cannot be stored.")]})
    return text_clean(value)


def export_value(value: Any) -> Any:
    """A cell of an export: stored text without the characters a spreadsheet file cannot hold."""
    return text_clean(value) if isinstance(value, str) else value


# Staff forms: the same controls but NUL, which Django's form fields refuse with their own clear error.
_FORM_CONTROLS = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Doors with their own rule (JSON APIs, the widget, webhooks signed over the raw body): left untouched.
_FORM_EXEMPT_PREFIXES = ("/api/", "/agent/api/", "/livechat/", "/connectors/")
_FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class FormTextMiddleware:
    """The form door (admin, line form, CRM, chat list, login): control characters other than tab, line
    feed and carriage return are dropped from every posted field before any form sees it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            request.method == "POST"
            and request.content_type in _FORM_CONTENT_TYPES
            and not request.path.startswith(_FORM_EXEMPT_PREFIXES)
        ):
            posted = request.POST.copy()
            for key, values in posted.lists():
                posted.setlist(key, [_SURROGATES.sub("\ufffd", _FORM_CONTROLS.sub("", v)) for v in values])
            posted._mutable = False
            # The stubs type POST as their immutable QueryDict; this copy is made immutable just above.
            request.POST = posted  # type: ignore[assignment]
        return self.get_response(request)
