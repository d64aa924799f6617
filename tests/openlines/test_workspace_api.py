"""The agent workspace page and its JSON endpoints, through the HTTP client."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient

from openlines.models import CannedResponse, CannedResponseList, OpenLine
from openlines.session_models import Session


def logged_in(user) -> HttpClient:
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(user)
    http.get("/agent/")  # sets the CSRF cookie like the page does
    return http


def post(http: HttpClient, url: str, body: dict | None = None):
    import json

    return http.post(
        url,
        data=json.dumps(body or {}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=http.cookies["csrftoken"].value,
    )


@pytest.fixture
def offered(line, write, agents):
    """A new conversation offered to agent1 (evenly: the first agent in the queue)."""
    result = write("I need help", who="dora")
    session = Session.objects.get(pk=result.session.pk)
    assert session.operator_id is not None
    return session


def test_workspace_needs_a_staff_login(db, make_user):
    assert HttpClient().get("/agent/").status_code == 302
    outsider = make_user("outsider", is_staff=False)
    http = HttpClient()
    http.force_login(outsider)
    assert http.get("/agent/").status_code == 302
    assert http.get("/agent/api/sessions/").status_code == 403
    assert HttpClient().get("/agent/api/sessions/").status_code == 401


def test_site_root_sends_staff_to_the_workspace_and_others_to_login(agent):
    assert HttpClient().get("/")["Location"].startswith("/admin/login/")
    http = HttpClient()
    http.force_login(agent)
    assert http.get("/")["Location"] == "/agent/"


def test_offered_conversation_is_listed_in_the_new_group_for_its_agent_only(offered, agents):
    owner = agents[0] if offered.operator_id == agents[0].pk else agents[1]
    other = next(a for a in agents if a.pk != owner.pk)
    data = logged_in(owner).get("/agent/api/sessions/").json()
    assert [(s["id"], s["group"]) for s in data["sessions"]] == [(offered.pk, "offered")]
    assert data["counters"] == {"offered": 1}
    assert data["sessions"][0]["client_name"] == "Client dora"
    assert logged_in(other).get("/agent/api/sessions/").json()["sessions"] == []
    assert logged_in(other).get(f"/agent/api/sessions/{offered.pk}/").status_code == 403
    assert logged_in(other).get(f"/agent/api/sessions/{offered.pk}/messages/").status_code == 403


def test_answer_write_and_page_the_history(offered, write):
    owner = offered.operator
    http = logged_in(owner)
    assert post(http, f"/agent/api/sessions/{offered.pk}/answer/").json()["group"] == "in_progress"
    assert post(http, f"/agent/api/sessions/{offered.pk}/answer/").status_code == 409
    for n in range(35):
        write(f"more {n}", who="dora")
    sent = post(http, f"/agent/api/sessions/{offered.pk}/messages/", {"text": "On it"})
    assert sent.status_code == 201 and sent.json()["message"]["text"] == "On it"
    page = http.get(f"/agent/api/sessions/{offered.pk}/messages/").json()
    assert page["has_more"] and len(page["messages"]) == 30
    assert page["messages"][-1]["text"] == "On it"
    older = http.get(
        f"/agent/api/sessions/{offered.pk}/messages/?before_id={page['messages'][0]['id']}"
    ).json()
    assert older["messages"][-1]["id"] < page["messages"][0]["id"]
    assert older["messages"][0]["text"] == "I need help"
    assert http.get(f"/agent/api/sessions/{offered.pk}/messages/?before_id=abc").status_code == 400
    assert post(http, f"/agent/api/sessions/{offered.pk}/messages/", {"text": "   "}).status_code == 400
    detail = http.get(f"/agent/api/sessions/{offered.pk}/").json()
    assert detail["group"] == "waiting_client"
    assert detail["client"]["name"] == "Client dora"


def test_closing_asks_for_confirmation_when_the_line_wants_it(offered):
    OpenLine.objects.filter(pk=offered.line_id).update(confirm_close=True, vote_message=False)
    http = logged_in(offered.operator)
    post(http, f"/agent/api/sessions/{offered.pk}/answer/")
    refused = post(http, f"/agent/api/sessions/{offered.pk}/close/")
    assert refused.status_code == 409
    assert "confirm" in refused.json()["errors"]["__all__"][0]
    closed = post(http, f"/agent/api/sessions/{offered.pk}/close/", {"confirmed": True})
    assert closed.status_code == 200 and closed.json()["group"] == "closing"
    assert Session.objects.get(pk=offered.pk).date_operator_close is not None


def test_transfer_to_a_colleague_moves_the_conversation(offered, agents):
    owner = offered.operator
    colleague = next(a for a in agents if a.pk != owner.pk)
    http = logged_in(owner)
    post(http, f"/agent/api/sessions/{offered.pk}/answer/")
    targets = http.get("/agent/api/transfer-targets/?q=Agent").json()
    assert colleague.pk in [a["id"] for a in targets["agents"]]
    assert owner.pk not in [a["id"] for a in targets["agents"]]
    assert post(http, f"/agent/api/sessions/{offered.pk}/transfer/", {"user": "x"}).status_code == 400
    moved = post(http, f"/agent/api/sessions/{offered.pk}/transfer/", {"user": colleague.pk})
    assert moved.status_code == 200 and moved.json()["gone"] is True
    assert Session.objects.get(pk=offered.pk).operator_id == colleague.pk
    assert offered.pk in [
        s["id"] for s in logged_in(colleague).get("/agent/api/sessions/").json()["sessions"]
    ]


def test_unknown_action_is_404_and_unknown_session_is_404(offered):
    http = logged_in(offered.operator)
    assert post(http, f"/agent/api/sessions/{offered.pk}/explode/").status_code == 404
    assert http.get("/agent/api/sessions/999999/").status_code == 404


def test_supervisor_sees_others_conversations_and_intercepts(offered, admin_user):
    http = logged_in(admin_user)
    data = http.get("/agent/api/sessions/").json()
    assert offered.pk in [s["id"] for s in data["supervised"]]
    detail = http.get(f"/agent/api/sessions/{offered.pk}/").json()
    assert detail["may"]["join"] and detail["may"]["intercept"]
    assert post(http, f"/agent/api/sessions/{offered.pk}/intercept/").status_code == 200
    assert Session.objects.get(pk=offered.pk).operator_id == admin_user.pk


def test_canned_responses_are_found_by_shortcut_or_text(offered):
    responses = CannedResponseList.objects.create(title="Answers")
    CannedResponse.objects.create(response_list=responses, shortcut="hi", title="Greeting", text="Hello!")
    CannedResponse.objects.create(
        response_list=responses, shortcut="bye", title="Bye", text="Goodbye, thanks"
    )
    OpenLine.objects.filter(pk=offered.line_id).update(canned_responses=responses)
    http = logged_in(offered.operator)
    found = http.get(f"/agent/api/sessions/{offered.pk}/canned-responses/?q=hi").json()["results"]
    assert [r["text"] for r in found] == ["Hello!"]
    by_text = http.get(f"/agent/api/sessions/{offered.pk}/canned-responses/?q=thanks").json()["results"]
    assert [r["shortcut"] for r in by_text] == ["bye"]


def test_own_status_pause_and_work_day(agent):
    http = logged_in(agent)
    assert http.get("/agent/api/status/").json()["paused"] is False
    assert post(http, "/agent/api/status/", {"action": "pause"}).json()["paused"] is True
    assert post(http, "/agent/api/status/", {"action": "resume"}).json()["paused"] is False
    assert post(http, "/agent/api/status/", {"action": "work_pause"}).status_code == 409
    assert post(http, "/agent/api/status/", {"action": "clock_in"}).json()["work_day"] == "open"
    assert post(http, "/agent/api/status/", {"action": "work_pause"}).json()["work_day"] == "paused"
    assert post(http, "/agent/api/status/", {"action": "clock_out"}).json()["work_day"] == "closed"
    assert post(http, "/agent/api/status/", {"action": "dance"}).status_code == 400


def test_actions_need_the_csrf_token(offered):
    http = HttpClient(enforce_csrf_checks=True)
    http.force_login(offered.operator)
    response = http.post(f"/agent/api/sessions/{offered.pk}/answer/", "{}", content_type="application/json")
    assert response.status_code == 403
