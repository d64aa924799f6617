"""The sessions API: list and filters scoped by role levels, detail, messages, every agent action and its
error statuses (403 / 409 / 400 / 404), never a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from openlines.models import CannedResponse, CannedResponseList, OpenLine
from openlines.session_models import Message, Session, SessionStatus
from tests.access_helpers import department, grant
from tests.api.conftest import advance, api_client, post

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/sessions/"


def url(session, action: str = "") -> str:
    return f"{URL}{session.pk}/" + (f"{action}/" if action else "")


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


@pytest.fixture
def a1(agents):
    return api_client(agents[0])


@pytest.fixture
def a2(agents):
    return api_client(agents[1])


@pytest.fixture
def session(write, agents):
    """A new enquiry, offered to the first agent (evenly)."""
    session = Session.objects.get(pk=write("Hi, my order is late", who="client-1").session.pk)
    assert session.operator_id == agents[0].pk
    return session


# --- Authentication -----------------------------------------------------------------------------------------


def test_anonymous_gets_401_and_non_staff_403(make_user):
    assert Client().get(URL).status_code == 401
    customer = make_user("customer", is_staff=False)
    response = api_client(customer).get(URL)
    assert response.status_code == 403 and "staff" in response.json()["errors"]["__all__"][0]


def test_logged_in_staff_needs_the_csrf_token_for_actions(agents, session):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(agents[0])
    assert browser.get(url(session)).status_code == 200
    assert browser.post(url(session, "answer")).status_code == 403
    browser.get("/admin/")  # the admin sets the CSRF cookie, as a browser would have it
    token = browser.cookies["csrftoken"].value
    # A form post is not JSON: refused with a 400, not a crash.
    assert browser.post(url(session, "answer"), {"a": "b"}, headers={"X-CSRFToken": token}).status_code == 400
    assert post(browser, url(session, "answer"), None, **{"X-CSRFToken": token}).status_code == 200


def test_wrong_method_is_405(a1, session):
    response = a1.delete(url(session))
    assert response.status_code == 405 and "GET" in response["Allow"]


# --- List and permission scope ------------------------------------------------------------------------------


def test_agent_sees_only_the_sessions_offered_to_them(write, agents, a1, a2):
    first = write("one", who="c1").session  # agent 1
    second = write("two", who="c2").session  # agent 2 (evenly)
    assert ids(a1.get(URL)) == [first.pk]
    assert ids(a2.get(URL)) == [second.pk]
    assert a2.get(url(first)).status_code == 404


def test_participant_sees_the_session(write, agents, a1, a2):
    session = write("one", who="c1").session
    grant(agents[1], join_perform="any")
    assert post(a2, url(session, "join")).status_code == 200
    assert session.pk in ids(a2.get(URL))


def test_statistics_own_level_adds_nothing_but_department_adds_colleagues(write, agents, make_user):
    boss = make_user("boss", is_staff=True)
    department("Support", agents[0], boss)
    first = write("one", who="c1").session  # agent 1, same department as the boss
    write("two", who="c2")  # agent 2, another department
    grant(boss, statistics_view="own")
    assert ids(api_client(boss).get(URL)) == []
    grant(boss, statistics_view="department")
    assert ids(api_client(boss).get(URL)) == [first.pk]


def test_history_any_sees_every_session(write, make_user):
    sessions = [write("x", who=f"c{i}").session for i in range(3)]
    supervisor = make_user("sup", is_staff=True)
    grant(supervisor, history_view="any")
    assert ids(api_client(supervisor).get(URL)) == [s.pk for s in reversed(sessions)]


def test_list_cost_does_not_grow_with_the_number_of_sessions(write, make_user):
    """The scope is one SQL condition, not one permission check per session."""
    boss = make_user("boss", is_staff=True)
    grant(boss, statistics_view="department")
    client = api_client(boss)
    write("x", who="c0")
    client.get(URL)  # warm caches of this process
    with CaptureQueriesContext(connection) as few:
        client.get(URL)
    for i in range(1, 8):
        write("x", who=f"c{i}")
    with CaptureQueriesContext(connection) as many:
        assert client.get(URL).status_code == 200
    assert len(many) == len(few)


def test_filters(write, agents, make_user, make_line):
    other_line = make_line(line_name="Sales", queue=[agents[2]])
    from contactcenter.models import Connector

    sales = Connector.objects.create(kind="rest", line=other_line, name="Sales REST")
    s1 = write("a", who="anna").session
    s2 = write("b", who="bert").session
    s3 = write("c", who="carl", connector=sales).session
    Session.objects.filter(pk=s1.pk).update(created_at=timezone.now() - timedelta(days=3))
    post(api_client(agents[1]), url(s2, "messages"), {"text": "Hello Bert"})
    boss = make_user("boss", is_staff=True)
    grant(boss, statistics_view="any")
    client = api_client(boss)

    assert ids(client.get(URL, {"line": other_line.pk})) == [s3.pk]
    assert ids(client.get(URL, {"line": f"{s1.line_id},{other_line.pk}"})) == [s3.pk, s2.pk, s1.pk]
    assert ids(client.get(URL, {"status": SessionStatus.OPERATOR})) == [s2.pk]
    assert ids(client.get(URL, {"status_group": "agent_answered"})) == [s2.pk]
    assert ids(client.get(URL, {"status_group": "waiting_agent"})) == [s3.pk, s1.pk]
    assert ids(client.get(URL, {"operator": agents[2].pk})) == [s3.pk]
    assert ids(client.get(URL, {"closed": "true"})) == []
    assert ids(client.get(URL, {"closed": "false", "mode": "input"})) == [s3.pk, s2.pk, s1.pk]
    assert ids(client.get(URL, {"mode": "output"})) == []
    today = timezone.localdate().isoformat()
    assert ids(client.get(URL, {"created_from": today})) == [s3.pk, s2.pk]
    assert ids(client.get(URL, {"created_to": (timezone.localdate() - timedelta(days=1)).isoformat()})) == [
        s1.pk
    ]
    assert ids(client.get(URL, {"client_name": "BERT"})) == [s2.pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"line": "x"}, "line"),
        ({"status": "33"}, "status"),
        ({"status_group": "busy"}, "status_group"),
        ({"operator": "-1"}, "operator"),
        ({"closed": "maybe"}, "closed"),
        ({"mode": "inbound"}, "mode"),
        ({"created_from": "2025-13-01"}, "created_from"),
        ({"created_to": "yesterday"}, "created_to"),
        ({"client_name": "x" * 300}, "client_name"),
        ({"limit": "201"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"colour": "red"}, "__all__"),
    ],
)
def test_bad_filters_are_400_next_to_the_parameter(a1, params, field):
    response = a1.get(URL, params)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_paging(write, make_user):
    sessions = [write("x", who=f"c{i}").session for i in range(5)]
    boss = make_user("boss", is_staff=True)
    grant(boss, history_view="any")
    body = api_client(boss).get(URL, {"limit": 2, "offset": 1}).json()
    assert body["count"] == 5 and body["limit"] == 2 and body["offset"] == 1
    assert [s["id"] for s in body["results"]] == [sessions[3].pk, sessions[2].pk]


# --- Detail and messages ------------------------------------------------------------------------------------


def test_detail_shows_the_summary(a1, session, agents):
    response = a1.get(url(session))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == session.pk and body["status"] == 0 and body["status_group"] == "waiting_agent"
    assert body["operator"] == {"id": agents[0].pk, "name": "Agent1"}
    assert body["client"]["name"] == "Client client-1" and body["client"]["external_id"] == "client-1"
    assert body["line"]["name"] == "Support" and body["mode"] == "input" and body["vote"] is None


def test_unknown_session_is_404(a1):
    assert a1.get(f"{URL}999999/").status_code == 404
    assert post(a1, f"{URL}999999/answer/").status_code == 404


def test_messages_page_back_and_forward_with_internal_notes(a1, session, write, agents):
    post(a1, url(session, "answer"))
    for i in range(4):
        write(f"more {i}", who="client-1")
    all_rows = list(Message.objects.filter(session=session).order_by("id"))
    assert any(m.internal for m in all_rows)
    latest = a1.get(url(session, "messages"), {"limit": 3}).json()
    assert [m["id"] for m in latest["results"]] == [m.pk for m in all_rows[-3:]] and latest["has_more"]
    older = a1.get(url(session, "messages"), {"before_id": all_rows[-3].pk, "limit": 100}).json()
    assert [m["id"] for m in older["results"]] == [m.pk for m in all_rows[:-3]] and not older["has_more"]
    newer = a1.get(url(session, "messages"), {"after_id": all_rows[0].pk, "limit": 2}).json()
    assert [m["id"] for m in newer["results"]] == [m.pk for m in all_rows[1:3]] and newer["has_more"]
    internal = [
        m for m in a1.get(url(session, "messages"), {"limit": 200}).json()["results"] if m["internal"]
    ]
    assert internal and internal[0]["author_type"] == "system"
    assert a1.get(url(session, "messages"), {"before_id": "abc"}).status_code == 400


def test_statistics_level_alone_shows_the_session_but_not_its_messages(session, make_user):
    analyst = make_user("analyst", is_staff=True)
    grant(analyst, statistics_view="any")
    client = api_client(analyst)
    assert client.get(url(session)).status_code == 200
    assert client.get(url(session, "messages")).status_code == 403
    grant(analyst, history_view="any")
    assert api_client(analyst).get(url(session, "messages")).status_code == 200


def test_agent_writes_and_the_first_message_answers(a1, session, agents):
    response = post(a1, url(session, "messages"), {"text": "How can I help?"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (
        body["author_type"] == "agent"
        and body["author"]["id"] == agents[0].pk
        and body["text"] == "How can I help?"
    )
    s = Session.objects.get(pk=session.pk)
    assert s.status == SessionStatus.OPERATOR and not s.wait_answer


def test_files_by_url_are_stored_as_attachments(a1, session):
    response = post(a1, url(session, "messages"), {"attachments": [{"url": "https://files.example/a.pdf"}]})
    assert response.status_code == 201
    assert response.json()["attachments"] == [
        {"kind": "file", "url": "https://files.example/a.pdf", "name": "a.pdf"}
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text": "x" * 20001}, "text"),
        ({"text": 5}, "text"),
        ({"text": "hi", "attachments": [{"url": "ftp://x/y"}]}, "attachments[0].url"),
        ({"text": "hi", "attachments": "a.pdf"}, "attachments"),
        ({"text": "hi", "colour": "red"}, "__all__"),
    ],
)
def test_bad_messages_are_400(a1, session, body, field):
    response = post(a1, url(session, "messages"), body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Message.objects.filter(session=session, author_type="agent").exists()


def test_body_that_is_not_json_is_400(a1, session):
    response = a1.post(url(session, "messages"), "{not json", content_type="application/json")
    assert response.status_code == 400


def test_supervisor_must_join_before_writing(session, make_user):
    supervisor = make_user("sup", is_staff=True)
    grant(supervisor, history_view="any", join_perform="any")
    client = api_client(supervisor)
    assert post(client, url(session, "messages"), {"text": "Hi"}).status_code == 403
    assert post(client, url(session, "join")).status_code == 200
    assert post(client, url(session, "messages"), {"text": "Hi"}).status_code == 201


# --- Actions ------------------------------------------------------------------------------------------------


def test_answer_by_the_offered_agent_then_again_is_409(a1, session, agents):
    response = post(a1, url(session, "answer"))
    assert response.status_code == 200
    assert response.json()["status"] == SessionStatus.ANSWER and response.json()["wait_answer"] is False
    again = post(a1, url(session, "answer"))
    assert again.status_code == 409 and "already" in again.json()["errors"]["__all__"][0]


def test_answer_by_someone_it_was_not_offered_to_is_403(session, make_user):
    supervisor = make_user("sup", is_staff=True)
    grant(supervisor, history_view="any")
    assert post(api_client(supervisor), url(session, "answer")).status_code == 403


def test_intercept_needs_the_join_permission(a1, session, agents):
    post(a1, url(session, "answer"))
    a3 = api_client(agents[2])
    assert post(a3, url(session, "intercept")).status_code == 404  # cannot even see it
    grant(agents[2], join_perform="department", history_view="any")
    assert post(api_client(agents[2]), url(session, "intercept")).status_code == 403
    grant(agents[2], join_perform="any")
    response = post(api_client(agents[2]), url(session, "intercept"))
    assert response.status_code == 200 and response.json()["operator"]["id"] == agents[2].pk


def test_intercept_of_a_conversation_nobody_holds_is_409(write, make_line, make_user, agents):
    from contactcenter.models import Connector

    empty = make_line(line_name="Nobody", queue=[])
    session = write(
        "hi", who="x", connector=Connector.objects.create(kind="rest", line=empty, name="N")
    ).session
    boss = make_user("boss", is_staff=True)
    grant(boss, join_perform="any")
    assert post(api_client(boss), url(session, "intercept")).status_code == 409


def test_skip_passes_to_the_next_agent(a1, session, agents):
    response = post(a1, url(session, "skip"))
    assert response.status_code == 200 and response.json()["operator"]["id"] == agents[1].pk
    assert post(a1, url(session, "skip")).status_code == 404  # no longer theirs to see


def test_skip_by_the_only_agent_is_409(write, make_line, agents):
    from contactcenter.models import Connector

    solo = make_line(line_name="Solo", queue=[agents[0]])
    session = write(
        "hi", who="x", connector=Connector.objects.create(kind="rest", line=solo, name="S")
    ).session
    response = post(api_client(agents[0]), url(session, "skip"))
    assert response.status_code == 409 and "only agent" in response.json()["errors"]["__all__"][0]


def test_transfer_to_a_colleague(a1, session, agents):
    post(a1, url(session, "answer"))
    response = post(a1, url(session, "transfer"), {"user_id": agents[2].pk})
    assert response.status_code == 200 and response.json()["operator"]["id"] == agents[2].pk
    assert Session.objects.get(pk=session.pk).transfers.get().to_user_id == agents[2].pk


def test_transfer_to_another_line(a1, session, agents, make_line):
    sales = make_line(line_name="Sales", queue=[agents[2]])
    response = post(a1, url(session, "transfer"), {"line_id": sales.pk})
    assert response.status_code == 200
    s = Session.objects.get(pk=session.pk)
    assert s.line_id == sales.pk and s.operator_id == agents[2].pk


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "__all__"),
        ({"user_id": 1, "line_id": 1}, "__all__"),
        ({"user_id": "2"}, "user_id"),
        ({"user_id": 999999}, "user_id"),
        ({"line_id": 999999}, "line_id"),
    ],
)
def test_bad_transfers_are_400(a1, session, body, field):
    response = post(a1, url(session, "transfer"), body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_transfer_to_self_and_to_the_same_line_are_400(a1, session, agents):
    assert "user_id" in post(a1, url(session, "transfer"), {"user_id": agents[0].pk}).json()["errors"]
    assert "line_id" in post(a1, url(session, "transfer"), {"line_id": session.line_id}).json()["errors"]


def test_transfer_by_someone_else_is_403(session, make_user, agents):
    viewer = make_user("viewer", is_staff=True)
    grant(viewer, history_view="any")
    assert post(api_client(viewer), url(session, "transfer"), {"user_id": agents[2].pk}).status_code == 403


def test_join_twice_is_409_and_without_permission_403(session, make_user):
    sup = make_user("sup", is_staff=True)
    grant(sup, history_view="any")
    assert post(api_client(sup), url(session, "join")).status_code == 403
    grant(sup, join_perform="any")
    client = api_client(sup)
    response = post(client, url(session, "join"))
    assert response.status_code == 200 and response.json()["participants"] == [sup.pk]
    assert post(client, url(session, "join")).status_code == 409


def test_pin_and_unpin(a1, a2, session):
    post(a1, url(session, "answer"))
    response = post(a1, url(session, "pin"))
    assert response.status_code == 200 and response.json()["pinned"] is True
    assert post(a1, url(session, "pin")).status_code == 409
    assert post(a1, url(session, "unpin")).json()["pinned"] is False
    assert post(a1, url(session, "unpin")).status_code == 409


def test_pin_by_a_participant_is_403(session, make_user):
    sup = make_user("sup", is_staff=True)
    grant(sup, join_perform="any")
    client = api_client(sup)
    post(client, url(session, "join"))
    assert post(client, url(session, "pin")).status_code == 403


def test_spam_closes_with_status_65(a1, session):
    response = post(a1, url(session, "spam"))
    assert response.status_code == 200
    assert response.json()["status"] == SessionStatus.SPAM and response.json()["closed"] is True
    assert post(a1, url(session, "spam")).status_code == 409


def test_close_starts_the_closing_phase_and_confirm_close_needs_confirm(a1, session, line):
    line.confirm_close = True
    line.save()
    post(a1, url(session, "messages"), {"text": "Done"})
    refused = post(a1, url(session, "close"))
    assert refused.status_code == 409 and "confirm" in refused.json()["errors"]["__all__"][0]
    assert post(a1, url(session, "close"), {"confirm": "yes"}).status_code == 400
    response = post(a1, url(session, "close"), {"confirm": True})
    assert response.status_code == 200
    assert response.json()["status"] == SessionStatus.WAIT_CLIENT and response.json()["wait_vote"] is True


def test_close_of_someone_elses_conversation_needs_join(session, make_user):
    viewer = make_user("viewer", is_staff=True)
    grant(viewer, history_view="any")
    assert post(api_client(viewer), url(session, "close")).status_code == 403


def test_action_body_with_unknown_fields_is_400(a1, session):
    assert post(a1, url(session, "answer"), {"force": True}).status_code == 400


# --- The closing phase (found by the engine's state machine) ------------------------------------------------


def detail(client, session) -> dict:
    response = client.get(url(session))
    assert response.status_code == 200, response.content
    return response.json()


def test_a_client_writing_to_a_pinned_conversation_in_its_closing_phase_stays_with_its_agent(
    a1, session, write, agents
):
    post(a1, url(session, "pin"))
    assert post(a1, url(session, "close"), {"confirm": True}).status_code == 200
    write("Any news?", who="client-1")
    assert not session.deadlines.filter(kind="queue").exists()  # pinned: no forward is even scheduled
    advance(3600)  # far past the queue time: a pinned conversation is never forwarded
    data = detail(a1, session)
    assert data["pinned"] is True and data["operator"]["id"] == agents[0].pk
    assert data["status"] == SessionStatus.SKIP and data["offered_to"] == [agents[0].pk]


def test_unpinning_in_the_closing_phase_neither_forwards_it_nor_keeps_the_week_delay(a1, session, agents):
    assert post(a1, url(session, "close")).status_code == 200  # closed before anyone accepted it
    post(a1, url(session, "pin"))
    assert post(a1, url(session, "unpin")).status_code == 200
    advance(61)  # past the queue time: nobody forwards a conversation that is being closed
    data = detail(a1, session)
    assert data["status"] == SessionStatus.WAIT_CLIENT and data["operator"]["id"] == agents[0].pk
    advance(10 * 60 + 1)  # the line's close delay (10 minutes), counted again from the unpin
    assert detail(a1, session)["closed"] is True


def test_an_agent_back_from_a_pause_is_not_offered_a_to_everybody_conversation_being_closed(
    write, agents, line, admin_user
):
    line.queue_type = OpenLine.QueueType.ALL
    line.save()
    session = write("Hi", who="client-1").session
    supervisor = api_client(admin_user)
    assert post(supervisor, url(session, "close")).status_code == 200  # nobody had accepted it
    workspace = Client()
    workspace.force_login(agents[0])
    for action in ("pause", "resume"):
        assert post(workspace, "/agent/api/status/", {"action": action}).status_code == 200
    data = detail(supervisor, session)
    assert data["status"] == SessionStatus.WAIT_CLIENT and data["offered_to"] == []
    # Not offered, so not theirs to see or answer (without a role, a conversation not theirs is a 404).
    assert post(api_client(agents[0]), url(session, "answer")).status_code == 404


# --- Outgoing sessions, canned responses, typing ------------------------------------------------------------


def test_start_an_outgoing_session_in_a_closed_chat(a1, session, line):
    line.full_close_time = 0
    line.save()
    chat = f"/api/v1/chats/{session.chat_id}/sessions/"
    assert post(a1, chat).status_code == 409  # still open
    post(a1, url(session, "close"))
    response = post(a1, chat)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (
        body["mode"] == "output"
        and body["status"] == SessionStatus.ANSWER
        and body["parent_id"] == session.pk
    )
    assert response["Location"] == f"{URL}{body['id']}/"


def test_start_in_an_unknown_or_invisible_chat_is_404(a2, session):
    assert post(a2, "/api/v1/chats/999999/sessions/").status_code == 404
    assert post(a2, f"/api/v1/chats/{session.chat_id}/sessions/").status_code == 404


def test_canned_responses_search(a1, session, line):
    answers = CannedResponseList.objects.create(title="Support")
    CannedResponse.objects.create(response_list=answers, title="Greeting", text="Hello!", shortcut="hello")
    CannedResponse.objects.create(response_list=answers, title="Bye", text="Goodbye", shortcut="bye")
    OpenLine.objects.filter(pk=line.pk).update(canned_responses=answers)
    response = a1.get(url(session, "canned-responses"), {"q": "hel"})
    assert response.status_code == 200
    assert [r["shortcut"] for r in response.json()["results"]] == ["hello"]
    assert len(a1.get(url(session, "canned-responses")).json()["results"]) == 2
    assert a1.get(url(session, "canned-responses"), {"q": "x" * 300}).status_code == 400


def test_typing(a1, session, make_user):
    assert post(a1, url(session, "typing"), {"preview": "Let me check"}).status_code == 204
    assert post(a1, url(session, "typing"), {"preview": "x" * 501}).status_code == 400
    viewer = make_user("viewer", is_staff=True)
    grant(viewer, history_view="any")
    assert post(api_client(viewer), url(session, "typing")).status_code == 403


def test_actions_on_a_closed_session_are_409(a1, session, line):
    line.full_close_time = 0
    line.save()
    post(a1, url(session, "close"))
    for action in ("answer", "skip", "pin", "spam", "close", "typing"):
        assert post(a1, url(session, action)).status_code == 409, action
    assert post(a1, url(session, "messages"), {"text": "late"}).status_code == 409


def test_inactive_users_cannot_be_transfer_targets(a1, session, agents):
    get_user_model().objects.filter(pk=agents[2].pk).update(is_active=False)
    assert "user_id" in post(a1, url(session, "transfer"), {"user_id": agents[2].pk}).json()["errors"]


# --- Schema -------------------------------------------------------------------------------------------------


def test_every_endpoint_is_in_the_openapi_schema(a1):
    schema = Client().get("/api/v1/schema/").json()
    paths = schema["paths"]
    for action in (
        "answer",
        "intercept",
        "skip",
        "transfer",
        "join",
        "pin",
        "unpin",
        "spam",
        "close",
        "typing",
    ):
        assert "post" in paths[f"/sessions/{{id}}/{action}/"], action
    assert paths["/sessions/{id}/transfer/"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ] == {"$ref": "#/components/schemas/SessionTransfer"}
    assert set(paths["/sessions/{id}/messages/"]) == {"get", "post"}
    assert (
        "get" in paths["/sessions/{id}/canned-responses/"] and "post" in paths["/chats/{chat_id}/sessions/"]
    )
    assert "409" in paths["/sessions/{id}/answer/"]["post"]["responses"]
    components = schema["components"]["schemas"]
    assert {"Session", "SessionPage", "Message", "MessagePage", "MessageCreate"} <= set(components)
    assert Client().get("/api/v1/docs/").status_code == 200


def test_docs_page_renders_with_sessions(admin_user):
    browser = Client()
    browser.force_login(admin_user)
    assert b"/sessions/{id}/answer/" in browser.get("/api/v1/docs/").content


def test_numbers_beyond_64_bits_are_4xx_not_errors(a1, session, make_user):
    huge = 2**70
    assert a1.get(f"{URL}{huge}/").status_code == 404
    assert post(a1, f"{URL}{huge}/answer/").status_code == 404
    assert post(a1, f"/api/v1/chats/{huge}/sessions/").status_code == 404
    assert "user_id" in post(a1, url(session, "transfer"), {"user_id": huge}).json()["errors"]
    assert "line" in a1.get(URL, {"line": huge}).json()["errors"]
    assert "after_id" in a1.get(url(session, "messages"), {"after_id": huge}).json()["errors"]


def test_department_join_level_acts_on_colleagues_sessions_only(write, agents, make_user):
    lead = make_user("lead", is_staff=True)
    department("First line", agents[0], lead)
    department("Second line", agents[1])
    sessions = [Session.objects.get(pk=write("x", who=f"c{i}").session.pk) for i in range(4)]  # evenly
    assert [s.operator_id for s in sessions] == [agents[0].pk, agents[1].pk, agents[2].pk, agents[0].pk]
    mine, theirs, _other, mine_too = sessions
    grant(lead, join_perform="department")
    client = api_client(lead)
    assert ids(client.get(URL)) == [mine_too.pk, mine.pk]
    assert post(client, url(theirs, "close")).status_code == 404
    assert post(client, url(mine, "close")).status_code == 200  # a colleague's conversation
    response = post(client, url(mine_too, "intercept"))
    assert response.status_code == 200 and response.json()["operator"]["id"] == lead.pk
