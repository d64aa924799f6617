"""Plumbing shared by the JSON API views: authentication, CSRF, errors, JSON bodies, pagination.

Authentication is either a personal token (`Authorization: Bearer <key>`, no CSRF: the key is not sent
by browsers on their own) or the staff session cookie, which needs the CSRF token on unsafe methods
exactly like a form post. The API is for staff: other users get 403.

Every error has one shape: `{"errors": {"<field>": ["message", ...]}}`, with `__all__` for errors that
belong to no field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.request import RawPostDataException
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from contactcenter.numbers import ID_MAX
from contactcenter.ratelimit import api_token_limit
from contactcenter.services.api_tokens import api_token_authenticate, api_token_prefix
from contactcenter.text import data_clean

if TYPE_CHECKING:
    from django.contrib.auth.models import User

NON_FIELD = "__all__"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

ErrorDict = dict[str, list[str]]
View = Callable[..., HttpResponse]


class ApiError(Exception):
    """Raised inside an API view to answer with an error status and messages."""

    def __init__(
        self,
        status: int,
        errors: Mapping[str, Sequence[str]] | str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status, errors)
        self.status = status
        self.headers = dict(headers or {})
        self.errors: ErrorDict = (
            {NON_FIELD: [errors]}
            if isinstance(errors, str)
            else {k: [str(m) for m in v] for k, v in errors.items()}
        )


def error_response(status: int, errors: Mapping[str, Sequence[str]] | str) -> JsonResponse:
    return _error_json(ApiError(status, errors))


def _error_json(error: ApiError) -> JsonResponse:
    response = JsonResponse({"errors": error.errors}, status=error.status)
    if error.status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    for name, value in error.headers.items():
        response[name] = value
    return response


def token_rate_limit(key: str) -> None:
    """Count one request of the token named by `key` (after it authenticated); a 429 when over the limit."""
    state = api_token_limit(key)
    if state.limited:
        raise ApiError(
            429,
            _("Too many requests with this token; retry in %(seconds)d seconds.")
            % {"seconds": state.retry_after},
            headers={"Retry-After": str(state.retry_after)},
        )


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> Any:
        return reason


def _csrf_failure(request: HttpRequest) -> str | None:
    check = _CsrfCheck(lambda _request: HttpResponse())
    check.process_request(request)
    reason: Any = check.process_view(request, lambda _request: HttpResponse(), (), {})
    return None if reason is None else str(reason)


def _authenticate(request: HttpRequest) -> None:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _sep, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise ApiError(401, _("Use the header 'Authorization: Bearer <token>'."))
        user = api_token_authenticate(key=key.strip())
        if user is None:
            raise ApiError(401, _("The token is invalid or revoked."))
        token_rate_limit(f"token:{api_token_prefix(key.strip())}")
        request.user = user
    else:
        if not request.user.is_authenticated:
            raise ApiError(401, _("Authentication required: log in or send a personal API token."))
        # Read the raw body first: the CSRF check parses form bodies, which would consume the stream and
        # leave the view's `request.body` raising (a 500 for a form-encoded POST). Not for file uploads:
        # large ones are parsed as a stream into `request.FILES` (reading them whole is refused as too big).
        if request.content_type != "multipart/form-data" or not _larger_than_memory_limit(request):
            _raw_body(request)
        if request.method not in SAFE_METHODS and _csrf_failure(request) is not None:
            raise ApiError(403, _("CSRF verification failed: send the X-CSRFToken header."))
    if not (request.user.is_active and request.user.is_staff):
        raise ApiError(403, _("The API is available to staff members only."))


def api_user(request: HttpRequest) -> User:
    """The authenticated caller inside an `api_view`."""
    user = request.user
    if not user.is_authenticated:
        raise ApiError(401, _("Authentication required: log in or send a personal API token."))
    return user


def bearer_key(request: HttpRequest) -> str:
    """The key of `Authorization: Bearer <key>`; a missing or malformed header is a 401."""
    scheme, _sep, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, _("Use the header 'Authorization: Bearer <token>'."))
    return key.strip()


def api_view(*, methods: Sequence[str], staff: bool = True) -> Callable[[View], View]:
    """Wrap a JSON API view: allowed methods, authentication, CSRF for sessions, JSON errors.

    `staff=False` is for machine clients with their own credentials (a connector's or a bot's token): the
    view authenticates them itself, typically with `bearer_key`.
    """
    allowed = [m.upper() for m in methods]
    if "GET" in allowed and "HEAD" not in allowed:
        allowed.append("HEAD")

    def decorator(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                if request.method not in allowed:
                    response = _error_json(
                        ApiError(
                            405, _("Method %(method)s is not allowed here.") % {"method": request.method}
                        )
                    )
                    response["Allow"] = ", ".join(allowed)
                    return response
                if staff:
                    _authenticate(request)
                return view(request, *args, **kwargs)
            except ApiError as error:
                return _error_json(error)
            except Http404:
                return _error_json(ApiError(404, _("Not found.")))
            except ValidationError as error:
                errors = error.message_dict if hasattr(error, "error_dict") else {NON_FIELD: error.messages}
                return _error_json(ApiError(400, errors))

        return wrapper

    return decorator


BIGINT_MAX = ID_MAX


def _unstorable(value: Any) -> bool:
    """Text with NUL characters or integers beyond 64 bits: no database column can take them."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) > BIGINT_MAX
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(v) for v in value)
    return False


def json_body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object; anything else is a 4xx with a message."""
    raw = _raw_body(request)
    try:
        data = json.loads(raw or b"null")
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, _("The body is not valid JSON.")) from None
    if not isinstance(data, dict):
        raise ApiError(400, _("The body must be a JSON object."))
    # Refused here once for every endpoint, before any query could fail on them (forms refuse NUL too).
    bad = sorted(key for key, value in data.items() if _unstorable(key) or _unstorable(value))
    if bad:
        raise ApiError(
            400, {key: [_("Null characters and numbers this large are not allowed.")] for key in bad}
        )
    # Other control characters (but tab and line breaks) are dropped: nobody types them (contactcenter.text).
    cleaned: dict[str, Any] = data_clean(data)
    return cleaned


@dataclass(frozen=True)
class Page:
    limit: int
    offset: int


def page_from_request(request: HttpRequest, *, default_limit: int = 50, max_limit: int = 200) -> Page:
    """`limit` (1…max_limit, default 50) and `offset` (≥ 0) from the query string, like the reference."""
    errors: ErrorDict = {}
    values = {}
    # An offset beyond 64 bits is no row number: the database refuses it (a 500, not a 400, otherwise).
    for name, default, upper in (("limit", default_limit, max_limit), ("offset", 0, BIGINT_MAX)):
        raw = request.GET.get(name, "")
        if raw == "":
            values[name] = default
            continue
        try:
            value = int(raw)
        except ValueError:
            errors[name] = [_("Enter a whole number.")]
            continue
        low = 1 if name == "limit" else 0
        if value < low or (upper is not None and value > upper):
            errors[name] = (
                [_("Enter a number from %(low)d to %(high)d.") % {"low": low, "high": upper}]
                if upper is not None
                else [_("Enter a number of at least %(low)d.") % {"low": low}]
            )
            continue
        values[name] = value
    if errors:
        raise ApiError(400, errors)
    return Page(limit=values["limit"], offset=values["offset"])


QUERY_TEXT_MAX = 255


def query_text(request: HttpRequest, name: str, *, max_length: int = QUERY_TEXT_MAX) -> str:
    """A free-text query parameter, stripped; longer than `max_length` or with a null character (no text
    column stores or compares one) it is a 400."""
    value = request.GET.get(name, "").strip()
    if "\x00" in value:
        raise ApiError(400, {name: [_("Null characters are not allowed.")]})
    if len(value) > max_length:
        raise ApiError(400, {name: [_("At most %(n)d characters.") % {"n": max_length}]})
    return value


def _larger_than_memory_limit(request: HttpRequest) -> bool:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    length = request.META.get("CONTENT_LENGTH") or "0"
    return limit is not None and (not str(length).isdigit() or int(length) > limit)


def _raw_body(request: HttpRequest) -> bytes:
    try:
        return request.body
    except RequestDataTooBig:
        raise ApiError(413, _("The body is too large.")) from None
    except RawPostDataException:  # a multipart body already parsed as a form: not what a JSON view takes
        raise ApiError(400, _("The body is not valid JSON.")) from None


def json_fields(request: HttpRequest, allowed: set[str]) -> dict[str, Any]:
    """The JSON object body (an empty body is `{}`); keys outside `allowed` are refused, not ignored."""
    data = json_body(request) if _raw_body(request).strip() else {}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ApiError(400, {NON_FIELD: [_("Unknown fields: %(names)s.") % {"names": ", ".join(unknown)}]})
    return data


def is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= ID_MAX


def optional_id(data: Mapping[str, Any], name: str) -> int | None:
    """`data[name]` as a positive integer id, or None when absent or null."""
    value = data.get(name)
    if value is None:
        return None
    if not is_id(value):
        raise ApiError(400, {name: [_("Enter an id (a positive whole number).")]})
    return int(value)
