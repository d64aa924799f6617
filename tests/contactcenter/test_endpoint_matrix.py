"""Permission matrix over every HTTP route: who may use it, and on whose objects.

The routes are read from the URL resolver, so a new route without an entry in `ROUTES` fails
`test_every_route_has_a_matrix_entry`. Each entry says what the route is (public, a staff page, the staff
JSON API, a machine endpoint with its own credentials) and, for routes governed by an access role, which
area/action decides and whose objects the user reaches at each level.

Callers: anonymous; a logged-in user who is not staff (even holding every level: roles never replace
`is_staff`); a staff member without any role; staff members with one level (none / own / department /
any) of the route's area. Objects: mine, a department colleague's, a stranger's.

The staff websocket has its own matrix at the end of the module (`/ws/staff/`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.html import escape

from contactcenter.models import Connector
from kpi.models import ChatExport
from openlines.models import ChatBot
from openlines.session_models import Session
from tests.access_helpers import (  # noqa: F401
    department,
    drop_default_assignments,
    fast_passwords,
    grant,
    grant_everything,
    make_line,
)
from tests.kpi.factories import add_message, make_session

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
OWNERS = ("mine", "colleague's", "stranger's")
LEVELS = ("none", "own", "department", "any")
REACH = {
    "none": set(),
    "own": {"mine"},
    "department": {"mine", "colleague's"},
    "any": set(OWNERS),
}


# --- The matrix ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """How one route is guarded.

    kind: "public" (anyone), "page" (staff HTML page: others are sent to the login page), "api" (staff
    JSON API: 401 anonymous, 403 not staff), "machine" (its own bearer credentials; a staff login is not
    enough).
    url: the path with placeholders filled from the world: {session}, {message}, {line}, {connector},
    {connector_uuid}, {chat}, {code}, {job}, {other_job}, {bot}.
    staff: status for a staff member without any role (and for public/machine routes: for anybody).
    area: "area_action" deciding access, e.g. "history_view"; granted at each level in the level tests.
    obj: which kind of object fills the URL for the level tests ("session", "line", "connector", "chat");
    None for routes without an object (the level then decides only whether the route opens at all).
    ok / hidden: status on an object within / out of reach (`ok` may depend on the owner).
    extra: further levels granted with the tested one (e.g. lines_view to reach connectors' pages).
    """

    kind: str
    url: str
    method: str = "GET"
    data: dict[str, Any] | None = None
    json: bool = False
    staff: int | tuple[int, ...] = 200
    area: str | None = None
    obj: str | None = None
    ok: int | tuple[int, ...] | Callable[[str], int] = 200
    hidden: int = 404
    no_level: int | None = None  # status at level "none" without any object (default: `hidden`)
    extra: dict[str, str] = field(default_factory=dict)
    levels: tuple[str, ...] = LEVELS
    # Being in a conversation (its agent) opens it whatever the level; not so for supervisor-only routes.
    relation_counts: bool = True


def _by_owner(mine: int, others: int) -> Callable[[str], int]:
    return lambda owner: mine if owner == "mine" else others


S = "/api/v1/sessions/{session}"
A = "/agent/api/sessions/{session}"


def session_action(suffix: str, *, ok: Any, data: dict[str, Any] | None = None) -> Route:
    """A POST of the sessions API on one conversation: the join permission at own/department/any level."""
    return Route(
        "api",
        S + suffix,
        "POST",
        data=data,
        json=True,
        area="join_perform",
        obj="session",
        ok=ok,
        levels=("own", "department", "any"),
    )


ROUTES: dict[str, Route] = {
    # Public pages and endpoints.
    "": Route("public", "/", staff=302),
    "healthz": Route("public", "/healthz", staff=(200, 503)),
    # Behind its own bearer token, METRICS_TOKEN: unset here, so off for everybody (test_metrics.py).
    "metrics": Route("public", "/metrics", staff=404),
    "livechat/demo/": Route("public", "/livechat/demo/"),
    "livechat/files/<path:path>": Route("public", "/livechat/files/livechat/none/x.png", staff=404),
    "livechat/<slug:code>/": Route("public", "/livechat/{code}/"),
    "livechat/<slug:code>/session/": Route("public", "/livechat/{code}/session/", "POST", json=True),
    "livechat/<slug:code>/upload/": Route("public", "/livechat/{code}/upload/", "POST", staff=403),
    # The world's line asks for no consent: its agreement page does not exist for anybody.
    "livechat/<slug:code>/agreement/": Route("public", "/livechat/{code}/agreement/", staff=404),
    # Without a visitor token nobody gets a transcript, staff included.
    "livechat/<slug:code>/transcript/": Route(
        "public", "/livechat/{code}/transcript/", "POST", json=True, staff=403
    ),
    "api/v1/schema/": Route("public", "/api/v1/schema/"),
    "api/v1/docs/": Route("public", "/api/v1/docs/"),
    # Machine endpoints: platform signatures, connector and bot tokens; no staff login counts.
    "connectors/<str:kind>/<str:uuid>/": Route(
        "public", "/connectors/telegram/{connector_uuid}/", "POST", staff=404
    ),
    "connectors/<str:kind>/": Route("public", "/connectors/whatsapp/", staff=403),
    "api/v1/connectors/<uuid:connector_uuid>/messages/": Route(
        "machine", "/api/v1/connectors/{connector_uuid}/messages/", "POST", json=True, staff=401
    ),
    "api/v1/connectors/<uuid:connector_uuid>/status/": Route(
        "machine", "/api/v1/connectors/{connector_uuid}/status/", "POST", json=True, staff=401
    ),
    **{
        f"api/v1/bots/<int:bot_id>/sessions/<int:session_id>/{name}/": Route(
            "machine", f"/api/v1/bots/{{bot}}/sessions/{{session}}/{name}/", "POST", json=True, staff=401
        )
        for name in ("message", "operator", "finish", "transfer")
    },
    # The agent workspace: everything there is about the user's own conversations and status.
    "agent/": Route("page", "/agent/"),
    "agent/api/sessions/": Route("api", "/agent/api/sessions/"),
    "agent/api/transfer-targets/": Route("api", "/agent/api/transfer-targets/"),
    "agent/api/status/": Route("api", "/agent/api/status/"),
    # The workspace answers 403 for a conversation the user may not see (its page shows the reason).
    "agent/api/sessions/<int:session_id>/": Route(
        "api", A + "/", area="history_view", obj="session", hidden=403
    ),
    "agent/api/sessions/<int:session_id>/messages/": Route(
        "api", A + "/messages/", area="history_view", obj="session", hidden=403
    ),
    "agent/api/sessions/<int:session_id>/canned-responses/": Route(
        "api", A + "/canned-responses/", area="history_view", obj="session", hidden=403
    ),
    # Retrying / cancelling a message's delivery: as for writing in the conversation (being in it); the
    # world's agent message has no retrying delivery, so whoever gets that far is refused with a 409.
    "agent/api/sessions/<int:session_id>/messages/<int:message_id>/<str:action>/": Route(
        "api",
        A + "/messages/{message}/retry/",
        "POST",
        json=True,
        area="join_perform",
        obj="session",
        ok=_by_owner(409, 403),
        hidden=403,
        levels=("own", "department", "any"),
    ),
    "agent/api/sessions/<int:session_id>/<str:action>/": Route(
        "api",
        A + "/join/",
        "POST",
        json=True,
        area="join_perform",
        obj="session",
        ok=_by_owner(409, 200),  # already in my own conversation
        hidden=403,
        levels=("own", "department", "any"),
    ),
    # Conversations through the JSON API: what the user may not see does not exist (404).
    "api/v1/sessions/": Route("api", "/api/v1/sessions/"),
    "api/v1/sessions/<int:pk>/": Route("api", S + "/", area="statistics_view", obj="session"),
    "api/v1/sessions/<int:pk>/messages/": Route("api", S + "/messages/", area="history_view", obj="session"),
    # Uploading a file to send needs being able to write there: 400 (no file) in my own, 403 elsewhere.
    "api/v1/sessions/<int:pk>/files/": Route(
        "api", S + "/files/", "POST", json=True, area="history_view", obj="session", ok=_by_owner(400, 403)
    ),
    "api/v1/sessions/<int:pk>/canned-responses/": Route(
        "api", S + "/canned-responses/", area="history_view", obj="session"
    ),
    "api/v1/sessions/<int:pk>/answer/": Route(
        "api",
        S + "/answer/",
        "POST",
        json=True,
        area="join_perform",
        obj="session",
        ok=_by_owner(200, 403),  # only what is offered to you (or already yours)
        levels=("own", "department", "any"),
    ),
    "api/v1/sessions/<int:pk>/messages/<int:message_id>/retry/": session_action(
        "/messages/{message}/retry/", ok=_by_owner(409, 403)
    ),
    "api/v1/sessions/<int:pk>/messages/<int:message_id>/cancel/": session_action(
        "/messages/{message}/cancel/", ok=_by_owner(409, 403)
    ),
    "api/v1/sessions/<int:pk>/intercept/": session_action("/intercept/", ok=_by_owner(409, 200)),
    "api/v1/sessions/<int:pk>/skip/": session_action("/skip/", ok=_by_owner(409, 403)),
    "api/v1/sessions/<int:pk>/transfer/": session_action(
        "/transfer/", ok=200, data={"line_id": "{target_line}"}
    ),
    "api/v1/sessions/<int:pk>/join/": session_action("/join/", ok=_by_owner(409, 200)),
    "api/v1/sessions/<int:pk>/pin/": session_action("/pin/", ok=_by_owner(200, 403)),
    "api/v1/sessions/<int:pk>/unpin/": session_action("/unpin/", ok=_by_owner(409, 403)),
    "api/v1/sessions/<int:pk>/spam/": session_action("/spam/", ok=200),
    "api/v1/sessions/<int:pk>/close/": session_action("/close/", ok=200, data={"confirm": True}),
    "api/v1/sessions/<int:pk>/typing/": session_action("/typing/", ok=_by_owner(204, 403)),
    "api/v1/chats/<int:chat_id>/sessions/": Route(
        "api",
        "/api/v1/chats/{chat}/sessions/",
        "POST",
        json=True,
        area="history_view",
        obj="session",
        ok=409,  # the chat's conversation is still open: no second one
    ),
    "api/v1/sessions/<int:pk>/crm/": Route("api", S + "/crm/", area="history_view", obj="session"),
    "api/v1/sessions/<int:pk>/crm/lead/": Route(
        "api", S + "/crm/lead/", "POST", json=True, area="history_view", obj="session", ok=201
    ),
    # Lines.
    "api/v1/lines/": Route("api", "/api/v1/lines/", staff=403, area="lines_view", no_level=403),
    "api/v1/lines/<int:pk>/": Route("api", "/api/v1/lines/{line}/", staff=404, area="lines_view", obj="line"),
    # Connectors: the Contact Center page and the REST connector's settings.
    "contact-center/": Route("page", "/contact-center/", staff=403, area="connectors_modify", no_level=403),
    "contact-center/connect/<str:kind>/": Route(
        "page", "/contact-center/connect/livechat/", staff=403, area="connectors_modify", no_level=403
    ),
    "contact-center/connectors/<int:pk>/": Route(
        "page",
        "/contact-center/connectors/{connector}/",
        staff=404,
        area="connectors_modify",
        obj="connector",
    ),
    "contact-center/connectors/<int:pk>/disconnect/": Route(
        "page",
        "/contact-center/connectors/{connector}/disconnect/",
        staff=404,
        area="connectors_modify",
        obj="connector",
    ),
    "contact-center/connectors/<int:pk>/reconnect/": Route(
        "page",
        "/contact-center/connectors/{connector}/reconnect/",
        "POST",
        staff=404,
        area="connectors_modify",
        obj="connector",
        ok=302,
    ),
    "contact-center/refresh/": Route(
        "page", "/contact-center/refresh/", "POST", staff=403, area="connectors_modify", no_level=403, ok=302
    ),
    "contact-center/connectors/<int:pk>/status/": Route(
        "page",
        "/contact-center/connectors/{connector}/status/",
        staff=404,
        area="connectors_modify",
        obj="connector",
    ),
    "contact-center/media/<path:path>": Route(
        "page", "/contact-center/media/connectors/{connector_uuid}/1/x.png", staff=404
    ),
    # Signed, expiring links to agents' files for platforms and integrators: the signature is the key.
    "contact-center/files/<str:token>/<str:name>": Route(
        "public", "/contact-center/files/forged/x.png", staff=404
    ),
    "contact-center/sessions/<int:session_id>/reply-window/": Route(
        "page", "/contact-center/sessions/{session}/reply-window/", area="history_view", obj="session"
    ),
    "contact-center/crm/sessions/<int:pk>/panel/": Route(
        "page", "/contact-center/crm/sessions/{session}/panel/", area="history_view", obj="session"
    ),
    "api/v1/connectors/<uuid:connector_uuid>/rest-settings/": Route(
        "api",
        "/api/v1/connectors/{connector_uuid}/rest-settings/",
        staff=404,
        area="connectors_modify",
        obj="connector",
    ),
    "api/v1/connectors/<uuid:connector_uuid>/rest-credentials/": Route(
        "api",
        "/api/v1/connectors/{connector_uuid}/rest-credentials/",
        "POST",
        json=True,
        staff=404,
        area="connectors_modify",
        obj="connector",
        ok=201,
    ),
    # The chat list and reports: communication statistics.
    "chats/": Route("page", "/chats/", staff=403, area="statistics_view", no_level=403),
    "chats/columns/": Route(
        "page",
        "/chats/columns/",
        "POST",
        {"columns": ["id"]},
        staff=403,
        area="statistics_view",
        ok=302,
        no_level=403,
    ),
    "chats/group/": Route(
        "page",
        "/chats/group/",
        "POST",
        {"action": "close"},
        staff=403,
        area="statistics_view",
        ok=302,
        no_level=403,
    ),
    "chats/export/": Route("page", "/chats/export/", staff=403, area="statistics_view", no_level=403),
    "chats/export/<uuid:pk>/": Route("page", "/chats/export/{job}/"),
    "chats/export/<uuid:pk>/file/": Route("page", "/chats/export/{job}/file/", staff=404),
    # Reading a conversation's messages is "communication history", not statistics (reference §7).
    "chats/<int:pk>/history/": Route(
        "page", "/chats/{session}/history/", area="history_view", obj="session", hidden=403
    ),
    "chats/<int:pk>/rate/": Route(
        "page",
        "/chats/{session}/rate/",
        "POST",
        {"vote_head": "4"},
        staff=403,
        area="vote_head_perform",
        obj="session",
        hidden=403,
        levels=("none", "department", "any"),
        relation_counts=False,
    ),
    "reports/": Route("page", "/reports/", staff=403, area="statistics_view", no_level=403),
    "reports/<str:chart>.csv": Route(
        "page", "/reports/agents.csv", staff=403, area="statistics_view", no_level=403
    ),
}


def _walk(patterns: list[Any], prefix: str = "") -> list[str]:
    routes = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            routes += _walk(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            routes.append(prefix + str(pattern.pattern))
    return routes


ALL_ROUTES = _walk(get_resolver().url_patterns)
ADMIN_ROUTES = sorted(r for r in ALL_ROUTES if r.startswith("admin/"))


# --- The world ----------------------------------------------------------------------------------------


@pytest.fixture
def world(make_user, settings):
    settings.LIVECHAT_RATE_LIMIT_SESSIONS_PER_MINUTE = 10**6  # the widget's endpoint is called per test
    drop_default_assignments()
    me = make_user("me", is_staff=True)
    colleague = make_user("colleague", is_staff=True)
    stranger = make_user("stranger", is_staff=True)
    department("Support", me, colleague)
    department("Sales", stranger)
    users = {"mine": me, "colleague's": colleague, "stranger's": stranger}
    lines, sessions, connectors, messages = {}, {}, {}, {}
    for owner, user in users.items():
        line = make_line(f"line {owner}", users=(user,))
        session = make_session(line, status=40, closed=False, operator=user, source="rest")
        add_message(session, f"hello from {owner}'s client")
        messages[owner] = add_message(session, f"hello from {owner}", author_type="agent", author=user)
        lines[owner], sessions[owner] = line, session
        connectors[owner] = Connector.objects.get(line=line, kind="rest")
    job = ChatExport.objects.create(user=me, format="xlsx")
    other_job = ChatExport.objects.create(user=stranger, format="xlsx")
    bot = ChatBot.objects.create(name="bot")
    return {
        "me": me,
        "users": users,
        "lines": lines,
        "sessions": sessions,
        "connectors": connectors,
        "messages": messages,
        "job": job,
        "other_job": other_job,
        "bot": bot,
    }


def _values(world: dict[str, Any], owner: str) -> dict[str, Any]:
    session: Session = world["sessions"][owner]
    connector: Connector = world["connectors"][owner]
    return {
        "session": session.pk,
        "message": world["messages"][owner].pk,
        "chat": session.chat_id,
        "line": world["lines"][owner].pk,
        # Somewhere to transfer the conversation to: a line other than its own.
        "target_line": world["lines"]["stranger's" if owner != "stranger's" else "mine"].pk,
        "connector": connector.pk,
        "connector_uuid": connector.uuid,
        "code": world["lines"][owner].code,
        "job": world["job"].pk,
        "other_job": world["other_job"].pk,
        "bot": world["bot"].pk,
    }


def _fill(value: Any, values: dict[str, Any]) -> Any:
    if isinstance(value, str):
        filled = value.format(**values)
        return int(filled) if filled.isdigit() and value.startswith("{") else filled
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


def call(client: Client, route: Route, world: dict[str, Any], owner: str = "mine") -> Any:
    values = _values(world, owner)
    url = route.url.format(**values)
    data = _fill(route.data, values) if route.data is not None else None
    if route.method == "GET":
        return client.get(url, data or {})
    if route.json:
        return client.generic(route.method, url, json.dumps(data or {}), content_type="application/json")
    return client.generic(route.method, url, data=_encode(data or {}), content_type=_FORM)


_FORM = "application/x-www-form-urlencoded"


def _encode(data: dict[str, Any]) -> str:
    from urllib.parse import urlencode

    return urlencode(data, doseq=True)


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _expect(status: int, expected: int | tuple[int, ...], response: Any, what: str) -> None:
    allowed = expected if isinstance(expected, tuple) else (expected,)
    assert status in allowed, f"{what}: {status} not in {allowed}: {response.content[:300]!r}"


def _login_redirect(response: Any) -> bool:
    return response.status_code == 302 and response["Location"].startswith(LOGIN)


# --- Every route is in the matrix ---------------------------------------------------------------------


def test_every_route_has_a_matrix_entry():
    missing = sorted(r for r in ALL_ROUTES if not r.startswith("admin/") and r not in ROUTES)
    stale = sorted(set(ROUTES) - set(ALL_ROUTES))
    assert not missing, f"routes without a permission-matrix entry: {missing}"
    assert not stale, f"matrix entries for routes that no longer exist: {stale}"


# --- Anonymous, not staff, staff without roles --------------------------------------------------------


@pytest.mark.parametrize("pattern", sorted(ROUTES))
def test_anonymous(world, pattern):
    route = ROUTES[pattern]
    response = call(Client(), route, world)
    if route.kind == "page":
        assert _login_redirect(response), (response.status_code, response.get("Location"))
    elif route.kind in ("api", "machine"):
        assert response.status_code == 401
    else:
        _expect(response.status_code, route.staff, response, pattern)


@pytest.mark.parametrize("pattern", sorted(ROUTES))
def test_logged_in_user_who_is_not_staff_is_refused_whatever_their_roles(world, make_user, pattern):
    outsider = make_user("outsider", is_staff=False)
    grant_everything(outsider, settings=True)
    route = ROUTES[pattern]
    response = call(logged_in(outsider), route, world)
    if route.kind == "page":
        assert _login_redirect(response), (response.status_code, response.get("Location"))
    elif route.kind == "api":
        assert response.status_code == 403
    elif route.kind == "machine":
        assert response.status_code == 401
    else:
        _expect(response.status_code, route.staff, response, pattern)


@pytest.mark.parametrize("pattern", sorted(ROUTES))
def test_staff_member_without_any_role(world, pattern):
    route = ROUTES[pattern]
    # Objects of a colleague: a staff member without roles reaches only their own.
    owner = "colleague's" if route.obj else "mine"
    response = call(logged_in(world["me"]), route, world, owner)
    expected = route.hidden if route.obj else route.staff
    _expect(response.status_code, expected, response, pattern)


def test_export_jobs_are_their_owners_only(world):
    client = logged_in(world["me"])
    assert client.get(f"/chats/export/{world['other_job'].pk}/").status_code == 404
    assert client.get(f"/chats/export/{uuid.uuid4()}/").status_code == 404


# --- Levels x own / department / any objects -----------------------------------------------------------

LEVEL_CASES = [
    (pattern, level, owner)
    for pattern, route in sorted(ROUTES.items())
    if route.area is not None
    for level in route.levels
    for owner in (OWNERS if route.obj else ("-",))
]


@pytest.mark.parametrize(("pattern", "level", "owner"), LEVEL_CASES)
def test_level_decides(world, pattern, level, owner):
    route = ROUTES[pattern]
    assert route.area is not None
    grant(world["me"], **{route.area: level}, **route.extra)
    client = logged_in(world["me"])
    if route.obj is None:
        response = call(client, route, world)
        expected = route.ok if level != "none" else (route.no_level or route.hidden)
        _expect(response.status_code, expected, response, f"{pattern} at {level}")  # type: ignore[arg-type]
        return
    response = call(client, route, world, owner)
    reachable = owner in REACH[level] or (
        owner == "mine" and route.obj == "session" and route.relation_counts
    )
    if reachable:
        expected = route.ok(owner) if callable(route.ok) else route.ok
    else:
        expected = route.hidden
    _expect(response.status_code, expected, response, f"{pattern} at {level} on {owner}")


def test_statistics_level_lists_conversations_but_does_not_open_their_messages(world):
    grant(world["me"], statistics_view="any")
    client = logged_in(world["me"])
    stranger = world["sessions"]["stranger's"]
    assert client.get(f"/api/v1/sessions/{stranger.pk}/").status_code == 200
    assert client.get(f"/api/v1/sessions/{stranger.pk}/messages/").status_code == 403
    assert client.get(f"/chats/{stranger.pk}/history/").status_code == 403
    assert client.get(f"/chats/{stranger.pk}/history/").content.count(b"hello from") == 0


# --- The admin ----------------------------------------------------------------------------------------


def _admin_url(route: str) -> str:
    import re

    url = re.sub(r"<(?:\w+:)?(\w+)>", "1", route)
    url = url.replace("^", "").replace("$", "")
    return "/" + url


PUBLIC_ADMIN = {"admin/login/", "admin/logout/"}


@pytest.mark.parametrize("route", ADMIN_ROUTES)
def test_admin_routes_send_anonymous_and_non_staff_users_to_the_login_page(world, make_user, route):
    if route in PUBLIC_ADMIN:
        return
    url = _admin_url(route)
    outsider = make_user("outsider", is_staff=False)
    for client in (Client(), logged_in(outsider)):
        response = client.get(url)
        assert _login_redirect(response), (url, response.status_code, response.get("Location"))


# Admin pages open to every staff member, scoped inside: their own tokens, the conversations they may read.
# (list page, add page)
ROLE_FREE_ADMIN_MODELS = {"contactcenter.apitoken": (200, 200), "openlines.session": (200, 403)}


@pytest.mark.parametrize(
    "model_admin", sorted(admin.site._registry.values(), key=lambda m: m.opts.label_lower), ids=str
)
def test_admin_model_pages_are_closed_to_staff_without_roles(world, model_admin):
    opts = model_admin.opts
    client = logged_in(world["me"])
    base = f"/admin/{opts.app_label}/{opts.model_name}/"
    listing, adding = ROLE_FREE_ADMIN_MODELS.get(opts.label_lower, (403, 403))
    assert client.get(base).status_code == listing, base
    assert client.get(base + "add/").status_code == adding, base + "add/"


@pytest.mark.parametrize(("level", "owner"), [(level, owner) for level in LEVELS for owner in OWNERS])
def test_conversation_admin_follows_the_history_level_not_django_permissions(world, level, owner):
    from django.contrib.auth.models import Permission

    me = world["me"]
    grant(me, history_view=level)
    # A Django model permission does not widen what the roles allow.
    me.user_permissions.add(
        Permission.objects.get(codename="view_session", content_type__app_label="openlines")
    )
    client = logged_in(me)
    session = world["sessions"][owner]
    listed = {s.pk for s in client.get("/admin/openlines/session/").context["cl"].result_list}
    page = client.get(f"/admin/openlines/session/{session.pk}/change/")
    reachable = owner == "mine" or owner in REACH[level]
    assert (session.pk in listed) is reachable
    assert page.status_code == (200 if reachable else 302)  # "doesn't exist" out of reach
    if reachable:
        assert escape(f"hello from {owner}'s client") in page.content.decode()  # the messages inline


# --- Changes that share a route with a read: writing, modifying lines, common settings -------------------


@pytest.mark.parametrize(("level", "owner"), [(level, owner) for level in LEVELS for owner in OWNERS])
def test_writing_into_a_conversation_needs_being_in_it_whatever_the_history_level(world, level, owner):
    grant(world["me"], history_view=level)
    client = logged_in(world["me"])
    session = world["sessions"][owner]
    body = json.dumps({"text": "hi"})
    api = client.post(f"/api/v1/sessions/{session.pk}/messages/", body, content_type="application/json")
    agent = client.post(f"/agent/api/sessions/{session.pk}/messages/", body, content_type="application/json")
    if owner == "mine":
        assert (api.status_code, agent.status_code) == (201, 201)
    elif owner in REACH[level]:
        assert (api.status_code, agent.status_code) == (403, 403)  # join first
    else:
        assert (api.status_code, agent.status_code) == (404, 403)
    assert session.messages.filter(text="hi").count() == (2 if owner == "mine" else 0)


@pytest.mark.parametrize(("level", "owner"), [(level, owner) for level in LEVELS for owner in OWNERS])
def test_changing_a_line_follows_the_modify_level(world, level, owner):
    grant(world["me"], lines_view="any", lines_modify=level)
    line = world["lines"][owner]
    response = logged_in(world["me"]).patch(
        f"/api/v1/lines/{line.pk}/", json.dumps({"line_name": "renamed"}), content_type="application/json"
    )
    assert response.status_code == (200 if owner in REACH[level] else 403)


@pytest.mark.parametrize("level", ["none", "any"])
def test_access_roles_and_their_assignments_are_common_settings(world, level):
    role = grant(world["me"], settings_modify=level)
    client = logged_in(world["me"])
    expected = 200 if level == "any" else 403
    for url in ("/admin/contactcenter/role/", "/admin/contactcenter/role/add/"):
        assert client.get(url).status_code == expected, url
    page = client.get(f"/admin/contactcenter/role/{role.pk}/change/")
    assert page.status_code == expected
    if level == "any":
        assert "assignments-TOTAL_FORMS" in page.content.decode()  # assignments are edited inline
