"""Request ids and the JSON log format (`LOG_FORMAT=json`).

Every HTTP request gets an id (the incoming `X-Request-ID` when it is a sane token, else a new one),
returned in the response's `X-Request-ID` header and attached to every log record written while the
request is handled, with the user's id and the conversation's session id when they are known. The user
is read only when authentication already loaded it: logging never causes a database query.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
# URL arguments that name an open-lines session (a conversation) in the views that take one.
_SESSION_ARGUMENTS = ("session_id",)

_request: ContextVar[HttpRequest | None] = ContextVar("log_request", default=None)
_request_id: ContextVar[str | None] = ContextVar("log_request_id", default=None)
_Tokens = tuple[Token[HttpRequest | None], Token[str | None]]


def request_id_get() -> str | None:
    """The id of the request being handled in this context, if any."""
    return _request_id.get()


def _request_id_choose(incoming: str | None) -> str:
    if incoming and _SANE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def _user_id(request: HttpRequest | None) -> int | None:
    # AuthenticationMiddleware caches the user here once something asked for it.
    user = getattr(request, "_cached_user", None) if request is not None else None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    pk = user.pk
    return pk if isinstance(pk, int) else None


class RequestIdMiddleware:
    """Give each request an id for the logs and the `X-Request-ID` response header."""

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponseBase]
        | Callable[[HttpRequest], Awaitable[HttpResponseBase]],
    ) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        tokens = self._enter(request)
        try:
            return self._leave(cast(HttpResponseBase, self.get_response(request)))
        finally:
            self._reset(tokens)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        tokens = self._enter(request)
        try:
            response = await self.get_response(request)  # type: ignore[misc]
            return self._leave(response)
        finally:
            self._reset(tokens)

    def process_view(
        self, request: HttpRequest, view: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        for name in _SESSION_ARGUMENTS:
            value = kwargs.get(name)
            if isinstance(value, int):
                request.log_session_id = value  # type: ignore[attr-defined]

    def _enter(self, request: HttpRequest) -> _Tokens:
        request_id = _request_id_choose(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id  # type: ignore[attr-defined]
        return (_request.set(request), _request_id.set(request_id))

    def _leave(self, response: HttpResponseBase) -> HttpResponseBase:
        response[REQUEST_ID_HEADER] = _request_id.get() or ""
        return response

    @staticmethod
    def _reset(tokens: _Tokens) -> None:
        request, request_id = tokens
        _request_id.reset(request_id)
        _request.reset(request)


class RequestContextFilter(logging.Filter):
    """Put the request id, user id and session id of the current request on each record (not overriding
    values a caller passed with `extra=`). Django logs a failed response after the middleware returned,
    with the request on the record: that request is read first."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if not isinstance(request, HttpRequest):
            request = _request.get()
        if not hasattr(record, "request_id"):
            record.request_id = getattr(request, "request_id", None)
        if not hasattr(record, "user_id"):
            record.user_id = _user_id(request)
        if not hasattr(record, "session_id"):
            record.session_id = getattr(request, "log_session_id", None)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the request context."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "user_id", "session_id"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
