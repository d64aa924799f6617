"""Fuzz pass with Hypothesis over the HTTP endpoints the OpenAPI schema does not describe: no 500.

- the live chat widget's endpoints and pages (`/livechat/<code>/...`): random bodies, content types,
  tokens, files, codes and paths;
- the messenger webhooks (`/connectors/<kind>/<uuid>/` and Meta's app-level URL): random bodies and
  headers (403), and correctly signed payloads with random parts replaced, which reach the parsers (400);
- the Contact Center page's forms (connect a channel, edit it) with random fields;
- the chat list, its export and the reports with random query strings (filters, sorts, pages);
- the agent workspace's JSON endpoints and the chat list's post forms with random input.

Example counts are small by default (25 per target, about a second each); the long form sets them with
`FUZZ_EXAMPLES`, e.g. `FUZZ_EXAMPLES=1000`. Run it on PostgreSQL too: it refuses input (NUL characters,
64-bit overflows) that SQLite lets through.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contactcenter.connectors.kinds import ConnectorKind
from contactcenter.models import Connector
from tests.access_helpers import drop_default_assignments, fast_passwords, grant, grant_everything, make_line  # noqa: F401
from tests.kpi.factories import add_message, make_session
from tests.messengers.conftest import (  # noqa: F401
    accepting_platform,
    make_connector,
    signed_headers,
    telegram_update,
    url_of,
    whatsapp_payload,
)

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MESSENGERS = ("telegram", "whatsapp", "messenger", "instagram", "viber")

# --- Strategies ---------------------------------------------------------------------------------------

text = st.text(max_size=40)
nasty_text = st.one_of(
    text,
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "a\x00b",
            "%00",
            "../",
            "..",
            "null",
            "[]",
            "{}",
            "1e309",
            "-1",
            "0",
            "9" * 40,
            "9" * 400,
            "²",
            "①",
            "١٢",
            "é" * 3,
        ]
    ),
)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    nasty_text,
)
json_value = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=12,
)
raw_body = st.one_of(
    st.binary(max_size=300),
    json_value.map(lambda v: json.dumps(v).encode()),
    st.integers(min_value=1, max_value=5000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(min_value=1, max_value=5000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
    st.just(b'{"token": "\\u0000"}'),
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "text/plain",
        "application/json; charset=latin-1",
        "",
    ]
)
query_values = st.lists(nasty_text, max_size=3)


def _no_500(response: Any, what: str = "") -> Any:
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)  # errors of a streamed body surface while it is read
    assert response.status_code < 500, (what, response.status_code, response.content[:300])
    return response


def _mutate(value: Any, data: st.DataObject) -> Any:
    """`value` with one randomly chosen part replaced by random JSON (or left as it is)."""
    if isinstance(value, dict) and value and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(value)))
        return {**value, key: _mutate(value[key], data)}
    if isinstance(value, list) and value and data.draw(st.booleans()):
        index = data.draw(st.integers(min_value=0, max_value=len(value) - 1))
        return [*value[:index], _mutate(value[index], data), *value[index + 1 :]]
    return data.draw(json_value)


# --- The world ----------------------------------------------------------------------------------------


@pytest.fixture
def world(make_user, settings, tmp_path):
    settings.LIVECHAT_RATE_LIMIT_SESSIONS_PER_MINUTE = 10**6
    settings.MEDIA_ROOT = str(tmp_path)  # uploads of the fuzz run land in the test's own folder
    drop_default_assignments()
    boss = make_user("boss", is_staff=True)
    agent = make_user("agent", is_staff=True)
    grant_everything(boss)
    line = make_line("Support", users=(agent, boss))
    Connector.objects.create(kind="livechat", line=line, name="chat")
    sessions = []
    for status, closed in ((0, False), (40, False), (60, True)):
        session = make_session(line, status=status, closed=closed, operator=boss if status else None)
        add_message(session, "hello")
        sessions.append(session.pk)
    messengers = {kind: make_connector(line, kind) for kind in MESSENGERS}
    boss_client = Client()
    boss_client.force_login(boss)
    return {"line": line, "sessions": sessions, "messengers": messengers, "boss": boss_client}


# --- Live chat ------------------------------------------------------------------------------------------


@FUZZ
@given(body=raw_body, content_type=content_types, method=st.sampled_from(["POST", "GET", "PUT", "OPTIONS"]))
def test_livechat_session_endpoint(world, body, content_type, method):
    url = f"/livechat/{world['line'].code}/session/"
    _no_500(Client().generic(method, url, body, content_type=content_type), url)


@FUZZ
@given(token=json_value, extra=st.dictionaries(text, json_value, max_size=3))
def test_livechat_session_with_random_tokens(world, token, extra):
    body = json.dumps({"token": token, **extra})
    response = Client().post(
        f"/livechat/{world['line'].code}/session/", body, content_type="application/json"
    )
    assert _no_500(response).status_code in (200, 400)


def _multipart(fields: dict[str, str], filename: str | None, content: bytes) -> bytes:
    """A multipart body as any client may send it: the file name is not cleaned on this side."""
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        )
    if filename is not None:
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        parts.append(head.encode() + b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


BOUNDARY = "fuzzBoundary7MA4YWxk"


@FUZZ
@given(
    token=nasty_text,
    content=st.binary(max_size=200),
    name=st.one_of(
        st.none(), nasty_text, st.sampled_from(["", ".", "..", "/", "a/../b", " .png", "x" * 300])
    ),
    valid_token=st.booleans(),
)
def test_livechat_upload(world, token, content, name, valid_token):
    code = world["line"].code
    if valid_token:
        token = (
            Client().post(f"/livechat/{code}/session/", "{}", content_type="application/json").json()["token"]
        )
    body = _multipart({"token": token}, name, content)
    response = Client().post(
        f"/livechat/{code}/upload/", body, content_type=f"multipart/form-data; boundary={BOUNDARY}"
    )
    assert _no_500(response, repr(name)).status_code in (201, 400, 403, 429)


@FUZZ
@given(code=nasty_text, path=nasty_text, line=nasty_text)
def test_livechat_pages(world, code, path, line):
    client = Client()
    for url in (
        f"/livechat/{quote(code, safe='')}/",
        f"/livechat/files/{quote(path)}",
        f"/livechat/files/livechat/{quote(path)}",
        "/livechat/demo/?" + urlencode({"line": line}),
    ):
        _no_500(client.get(url), url)


def test_regression_deeply_nested_json_to_the_widget_is_400_not_500(world):
    body = b"[" * 100_000 + b"]" * 100_000
    response = Client().post(
        f"/livechat/{world['line'].code}/session/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "errors" in response.json()


def test_regression_a_folder_under_livechat_files_is_404_not_500(world):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    stored = default_storage.save("livechat/0/fuzz/picture.png", ContentFile(b"x"))
    assert Client().get("/livechat/files/livechat/").status_code == 404
    assert Client().get("/livechat/files/livechat/0/fuzz").status_code == 404
    assert Client().get(f"/livechat/files/{stored}").status_code == 200


@pytest.mark.parametrize("digits", ["²", "9" * 400])
def test_regression_odd_digits_are_refused_not_500(world, digits):
    """`str.isdigit()` holds for "²" but `int("²")` fails; 400 digits overflow a float."""
    boss, session_id = world["boss"], world["sessions"][1]
    assert boss.get(f"/agent/api/sessions/{session_id}/messages/", {"before_id": digits}).status_code == 400
    body = json.dumps({"user": digits})
    response = boss.post(f"/agent/api/sessions/{session_id}/transfer/", body, content_type="application/json")
    assert response.status_code == 400
    assert (
        boss.post("/chats/group/", {"ids": [digits], "action": "close", "to_user": digits}).status_code == 302
    )
    whatsapp = world["messengers"]["whatsapp"]
    payload = VALID_PAYLOADS["whatsapp"]
    payload = json.loads(json.dumps(payload).replace('"1700000000"', json.dumps(digits)))
    body = json.dumps(payload).encode()
    response = Client().post(
        url_of(whatsapp), body, content_type="application/json", **signed_headers(whatsapp, body)
    )
    assert response.status_code == 400


def test_regression_null_characters_in_searches_are_400_not_500(world):
    boss, session_id = world["boss"], world["sessions"][1]
    for url, name in (
        ("/agent/api/transfer-targets/", "q"),
        (f"/agent/api/sessions/{session_id}/canned-responses/", "q"),
        (f"/api/v1/sessions/{session_id}/canned-responses/", "q"),
        ("/api/v1/sessions/", "client_name"),
    ):
        response = boss.get(url, {name: "a\x00b"})
        assert response.status_code == 400, url
        assert name in response.json()["errors"], url
    assert Client().get("/livechat/demo/", {"line": "\x00"}).status_code == 200


def test_regression_numbers_beyond_64_bits_in_staff_query_strings(world):
    huge = "9" * 30
    boss = world["boss"]
    for url in (
        f"/chats/?line={huge}&operator={huge}&bot={huge}&session_id={huge}&message_count_min={huge}",
        f"/chats/?page={huge}",
        f"/chats/export/?format=xlsx&line={huge}&session_id={huge}",
        f"/reports/?line={huge}&operator={huge}",
        f"/agent/api/sessions/{world['sessions'][1]}/messages/?before_id={huge}",
    ):
        _no_500(boss.get(url), url)


def test_regression_null_character_in_a_messenger_file_path_is_404(world):
    connector = world["messengers"]["telegram"]
    response = world["boss"].get(f"/contact-center/media/connectors/{connector.uuid}/1/a%00b.png")
    assert response.status_code == 404


# --- Messenger webhooks ----------------------------------------------------------------------------


@FUZZ
@given(
    kind=st.sampled_from(MESSENGERS),
    body=raw_body,
    headers=st.dictionaries(
        st.sampled_from(
            [
                "HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN",
                "HTTP_X_HUB_SIGNATURE_256",
                "HTTP_X_VIBER_CONTENT_SIGNATURE",
                "HTTP_CONTENT_LENGTH",
                "CONTENT_LENGTH",
            ]
        ),
        nasty_text,
        max_size=3,
    ),
    query=st.dictionaries(st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge", "x"]), text),
    method=st.sampled_from(["POST", "GET", "PUT"]),
    sign=st.booleans(),
    app_level=st.booleans(),
)
def test_webhooks_with_random_bodies_and_headers(world, kind, body, headers, query, method, sign, app_level):
    connector = world["messengers"][kind]
    url = (f"/connectors/{kind}/" if app_level else url_of(connector)) + "?" + urlencode(query)
    if sign:
        headers = {**headers, **signed_headers(connector, body)}
    headers.pop("CONTENT_LENGTH", None)  # the test client sets it from the body
    response = _no_500(Client().generic(method, url, body, content_type="application/json", **headers), url)
    assert response.status_code in (200, 400, 403, 404, 405, 413)


VALID_PAYLOADS = {
    "telegram": telegram_update(1, {"text": "hi"}),
    "whatsapp": whatsapp_payload(
        messages=[
            {
                "from": "4915112345",
                "id": "wamid.1",
                "timestamp": "1700000000",
                "type": "text",
                "text": {"body": "hi"},
            }
        ]
    ),
    "messenger": {
        "object": "page",
        "entry": [
            {
                "id": "PAGE1",
                "time": 1,
                "messaging": [
                    {
                        "sender": {"id": "U1"},
                        "recipient": {"id": "PAGE1"},
                        "timestamp": 1,
                        "message": {"mid": "m1", "text": "hi"},
                    }
                ],
            }
        ],
    },
    "instagram": {
        "object": "instagram",
        "entry": [
            {
                "id": "IG1",
                "time": 1,
                "messaging": [
                    {
                        "sender": {"id": "U1"},
                        "recipient": {"id": "IG1"},
                        "timestamp": 1,
                        "message": {"mid": "m1", "text": "hi"},
                    }
                ],
            }
        ],
    },
    "viber": {
        "event": "message",
        "timestamp": 1,
        "message_token": 1,
        "sender": {"id": "V1", "name": "Vic"},
        "message": {"type": "text", "text": "hi"},
    },
}


@FUZZ
@given(kind=st.sampled_from(MESSENGERS), data=st.data())
def test_signed_webhooks_with_random_parts_are_parsed_or_refused_with_a_reason(world, kind, data):
    connector = world["messengers"][kind]
    body = json.dumps(_mutate(VALID_PAYLOADS[kind], data)).encode()
    response = Client().post(
        url_of(connector), body, content_type="application/json", **signed_headers(connector, body)
    )
    assert _no_500(response, body.decode()).status_code in (200, 400)


# --- Staff pages: the Contact Center forms, the chat list, the reports ------------------------------------

CONNECT_FIELDS = [
    "line",
    "new_line_name",
    "name",
    "account_id",
    "bot_token",
    "access_token",
    "app_secret",
    "verify_token",
    "business_account_id",
    "page_access_token",
    "auth_token",
    "active",
]
form_data = st.dictionaries(st.sampled_from(CONNECT_FIELDS) | text, query_values, max_size=6)


@FUZZ
@given(kind=st.sampled_from([k.value for k in ConnectorKind]), data=form_data, target=st.booleans())
def test_contact_center_connect_and_edit_forms(world, accepting_platform, kind, data, target):  # noqa: F811
    data = dict(data)
    if target:
        data["line"] = [str(world["line"].pk)]
    url = f"/contact-center/connect/{kind}/"
    assert _no_500(world["boss"].post(url, data), url).status_code in (200, 302)
    connector = world["messengers"]["telegram" if target else "viber"]
    url = f"/contact-center/connectors/{connector.pk}/"
    assert _no_500(world["boss"].post(url, data), url).status_code in (200, 302)


CHAT_LIST_KEYS = [
    "line",
    "mode",
    "created_from",
    "created_to",
    "closed_from",
    "closed_to",
    "operator",
    "bot",
    "client",
    "channel",
    "session_id",
    "extra_url",
    "status_group",
    "status",
    "crm",
    "worktime",
    "spam",
    "message_count_min",
    "message_count_max",
    "vote",
    "vote_head",
    "sort",
    "page",
    "per_page",
    "history",
    "format",
]
query = st.dictionaries(st.sampled_from(CHAT_LIST_KEYS) | text, query_values, max_size=8)


@FUZZ
@given(params=query)
def test_chat_list_and_export_query_strings(world, params):
    qs = urlencode(params, doseq=True)
    for url in (f"/chats/?{qs}", f"/chats/export/?{qs}"):
        assert _no_500(world["boss"].get(url), url).status_code in (200, 302, 400)


REPORT_KEYS = ["line", "operator", "date_from", "date_to"]


@FUZZ
@given(
    params=st.dictionaries(st.sampled_from(REPORT_KEYS) | text, query_values, max_size=5),
    chart=st.sampled_from(["conversations", "agents", "first_answer", "kpi_breach", "client_votes", "x"]),
)
def test_report_query_strings(world, params, chart):
    qs = urlencode(params, doseq=True)
    for url in (f"/reports/?{qs}", f"/reports/{chart}.csv?{qs}"):
        assert _no_500(world["boss"].get(url), url).status_code in (200, 404)


@FUZZ
@given(
    data=st.dictionaries(
        st.sampled_from(["ids", "action", "to_user", "next", "columns", "vote_head", "comment_head"]) | text,
        query_values,
        max_size=5,
    ),
    which=st.sampled_from(["group", "columns", "rate"]),
)
def test_chat_list_post_forms(world, data, which):
    url = {"group": "/chats/group/", "columns": "/chats/columns/"}.get(
        which, f"/chats/{world['sessions'][1]}/rate/"
    )
    assert _no_500(world["boss"].post(url, data), url).status_code in (200, 302, 400, 403)


# --- The agent workspace's endpoints ------------------------------------------------------------------------

AGENT_ACTIONS = ["answer", "intercept", "skip", "transfer", "join", "pin", "unpin", "spam", "close", "x"]


@FUZZ
@given(
    body=raw_body,
    action=st.sampled_from(AGENT_ACTIONS),
    which=st.integers(min_value=0, max_value=3),
    query=st.dictionaries(st.sampled_from(["before_id", "q"]) | text, nasty_text, max_size=2),
)
def test_agent_workspace_endpoints(world, body, action, which, query):
    session_id = world["sessions"][which] if which < 3 else 2**70
    qs = urlencode(query)
    client = world["boss"]
    for method, url in (
        ("POST", f"/agent/api/sessions/{session_id}/{action}/"),
        ("POST", f"/agent/api/sessions/{session_id}/messages/"),
        ("GET", f"/agent/api/sessions/{session_id}/messages/?{qs}"),
        ("GET", f"/agent/api/sessions/{session_id}/canned-responses/?{qs}"),
        ("GET", f"/agent/api/transfer-targets/?{qs}"),
        ("POST", "/agent/api/status/"),
        ("GET", f"/contact-center/sessions/{session_id}/reply-window/"),
        ("GET", f"/contact-center/crm/sessions/{session_id}/panel/"),
        ("GET", f"/chats/{session_id}/history/"),
    ):
        _no_500(client.generic(method, url, body, content_type="application/json"), url)
