"""The staff login (the admin's login page, which the workspace and every staff page redirect to), with
limits on failed attempts per username and per client address.

Only failures count, so a staff member who logs in correctly is never slowed down by others, and a
blocked username or address does not affect anybody else's. A blocked attempt is refused before the
password is checked, with a form error and the status 429.
"""

from __future__ import annotations

import math
from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils.translation import ngettext

from contactcenter.ratelimit import login_blocked, login_failed


class RateLimitedLoginForm(AdminAuthenticationForm):
    retry_after = 0

    def clean(self) -> dict[str, Any]:
        if self.request is None:
            return super().clean()
        username = str(self.cleaned_data.get("username") or "")
        blocked = login_blocked(self.request, username)
        if blocked.limited:
            self.retry_after = blocked.retry_after
            minutes = math.ceil(blocked.retry_after / 60)
            raise ValidationError(
                ngettext(
                    "Too many failed logins. Try again in %(minutes)d minute.",
                    "Too many failed logins. Try again in %(minutes)d minutes.",
                    minutes,
                )
                % {"minutes": minutes},
                code="rate_limited",
            )
        try:
            return super().clean()
        except ValidationError:
            login_failed(self.request, username)
            raise


admin.site.login_form = RateLimitedLoginForm


def staff_login(request: HttpRequest) -> HttpResponse:
    """The admin's login view; a refused (rate limited) attempt answers 429 with Retry-After."""
    response = admin.site.login(request)
    context = getattr(response, "context_data", None) or {}
    retry_after = getattr(context.get("form"), "retry_after", 0)
    if retry_after:
        response.status_code = 429
        response["Retry-After"] = str(retry_after)
    return response
