"""The staff login (the admin's login page, which the workspace and every staff page redirect to), with
limits on failed attempts per (username, client address) pair and per client address.

Only failures count, so a staff member who logs in correctly is never slowed down by others. A username is
delayed only for the address its failures come from (a growing delay, contactcenter.ratelimit), so an
attacker elsewhere cannot lock its owner out; an address with too many failures overall is refused for
every username. When a username collects LOGIN_RATE_LIMIT_FAILURES_PER_USERNAME failures within the window
(from any addresses), its owner is told by e-mail, once per window. A blocked attempt is refused before the
password is checked, with a form error and the status 429.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from contactcenter.ratelimit import client_ip, login_blocked, login_failed, login_succeeded

logger = logging.getLogger(__name__)


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
            cleaned = super().clean()
        except ValidationError:
            if login_failed(self.request, username):
                login_failures_notify(username=username, address=client_ip(self.request))
            raise
        login_succeeded(self.request, username)
        return cleaned


def login_failures_notify(*, username: str, address: str) -> None:
    """Tell the account's owner that their username sees repeated failed logins (they may want to change
    their password; they can still log in from their own address)."""
    user = (
        get_user_model()
        .objects.filter(username__iexact=username.strip(), is_active=True)
        .exclude(email="")
        .first()
    )
    if user is None:
        return
    body = _(
        "There were repeated failed attempts to log in to the contact center as %(username)s, the latest "
        "from the address %(address)s at %(time)s (UTC).\n\nIf this was not you, your account is not locked: "
        "you can still log in from your own network. Consider changing your password, and tell your "
        "administrator."
    ) % {
        "username": user.get_username(),
        "address": address,
        "time": timezone.now().strftime("%Y-%m-%d %H:%M"),
    }
    try:
        send_mail(_("Repeated failed logins to your account"), body, None, [user.email])
    except Exception:
        logger.exception("Could not e-mail %s about repeated failed logins", user.get_username())


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
