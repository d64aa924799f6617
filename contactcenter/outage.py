"""Requests during a database outage fail fast with 503 instead of hanging and answering 500.

The connection and pool timeouts (settings: DATABASE_CONNECT_TIMEOUT, DATABASE_POOL_TIMEOUT) bound how long
a request waits for PostgreSQL; the error that follows is answered here: JSON `{"errors": ...}` for the
APIs, the live chat and webhooks (with the live chat's CORS header, so the widget can read it), a short
HTML page for everything else, both with Retry-After. Nothing here touches the database.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views import defaults

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
JSON_PREFIXES = ("/api/", "/agent/api/", "/livechat/", "/connectors/", "/healthz")


def database_unavailable(error: BaseException | None) -> bool:
    return isinstance(error, OperationalError | InterfaceError)


def wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return request.path.startswith(JSON_PREFIXES) or (
        "application/json" in accept and "text/html" not in accept
    )


def unavailable_response(request: HttpRequest) -> HttpResponse:
    message = _("The service is temporarily unavailable; try again in a moment.")
    response: HttpResponse
    if wants_json(request):
        response = JsonResponse({"errors": {"__all__": [message]}}, status=503)
        if request.path.startswith("/livechat/"):
            response["Access-Control-Allow-Origin"] = "*"
    else:
        title = escape(_("Temporarily unavailable"))
        response = HttpResponse(
            f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><h1>{title}</h1><p>{escape(message)}</p></body></html>",
            status=503,
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseOutageMiddleware:
    """Answers a view's database-unavailable error with 503 (the server error handler below covers errors
    raised outside views, e.g. while a middleware loads the session)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not database_unavailable(exception):
            return None
        logger.error("Database unavailable for %s %s: %s", request.method, request.path, exception)
        return unavailable_response(request)


def server_error(request: HttpRequest, template_name: str = defaults.ERROR_500_TEMPLATE_NAME) -> HttpResponse:
    """handler500: a database outage is 503, anything else Django's 500 page."""
    if database_unavailable(sys.exc_info()[1]):
        return unavailable_response(request)
    return defaults.server_error(request, template_name)
