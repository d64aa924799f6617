"""Issue 17's engine and CRM defects, each driven through the doors a client, an agent and an administrator
use (the REST connector, the sessions API, the live chat endpoints, the admin forms), each failing on the
code before its fix."""

from __future__ import annotations

import pytest

from openlines.models import OpenLine
from openlines.session_models import Message, Session, SessionStatus
from tests.api.conftest import advance, api_client, deliver, post

pytestmark = pytest.mark.django_db(transaction=True)

SESSIONS = "/api/v1/sessions/"
ALL_DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def detail(client, session_id: int) -> dict:
    response = client.get(f"{SESSIONS}{session_id}/")
    assert response.status_code == 200, response.content
    return response.json()


def notes(session_id: int) -> list[str]:
    return list(
        Message.objects.filter(session_id=session_id, internal=True)
        .order_by("id")
        .values_list("text", flat=True)
    )


# --- 1. The off-hours reply no longer corrupts routing -----------------------------------------------------


def off_hours(line: OpenLine) -> None:
    line.worktime_enable = True
    line.worktime_dayoff = ALL_DAYS  # every day is off: whatever the real clock says, the line is closed
    line.worktime_dayoff_rule = OpenLine.Rule.TEXT
    line.save()


def test_off_hours_reply_keeps_the_routing_it_follows(integrator, agents, line, callbacks):
    off_hours(line)
    sent = integrator.send("Hello, anyone there?", msg_id="m-1")
    assert sent.status_code == 201, sent.content
    session_id = sent.json()["session_id"]
    deliver()
    assert any("working hours" in text for text in callbacks.texts())  # the client got the off-hours text
    first = api_client(agents[0])
    data = detail(first, session_id)
    # Offered to the first agent and stored so (the reply once overwrote it: nobody, not waiting, no history).
    assert data["operator"]["id"] == agents[0].pk and data["offered_to"] == [agents[0].pk]
    assert data["undistributed"] is False and data["status"] == SessionStatus.NEW
    assert Session.objects.get(pk=session_id).queue_history == [agents[0].pk]
    # Idle past the queue time: forwarded to the next agent, with the note.
    advance(line.queue_time + 1)
    data = detail(api_client(agents[1]), session_id)
    assert data["operator"]["id"] == agents[1].pk and data["status"] == SessionStatus.SKIP
    assert any("Agent2" in text for text in notes(session_id))
    # The next client does not silently move the first enquiry.
    assert integrator.send("Me too", msg_id="m-2", user="u-2", chat="c-2").status_code == 201
    assert detail(api_client(agents[1]), session_id)["operator"]["id"] == agents[1].pk


def test_a_session_is_never_saved_whole():
    from openlines.session_models import FullSessionSave

    session = Session.objects.none().model()  # an unsaved instance may be inserted ...
    assert session._state.adding
    stored = Session.__new__(Session)
    stored.__dict__.update(Session().__dict__)
    stored._state.adding = False
    with pytest.raises(FullSessionSave):  # ... but a stored one is never written whole
        stored.save()


# --- 6. Smaller ones ----------------------------------------------------------------------------------------


def test_a_supervisor_may_comment_without_stars(integrator, agents, admin_user, client):
    session_id = integrator.send("Hello", msg_id="m-1").json()["session_id"]
    client.force_login(admin_user)
    rate = f"/chats/{session_id}/rate/"
    response = client.post(rate, {"vote_head": "4", "comment_head": ""})
    assert response.status_code == 200 and response.json()["vote_head"] == 4
    response = client.post(rate, {"comment_head": "Polite, but check the refund rules"})
    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": session_id,
        "vote_head": 4,  # the stars given before are kept
        "comment_head": "Polite, but check the refund rules",
    }
    fresh = integrator.send("Hi", msg_id="m-2", user="u-2", chat="c-2").json()["session_id"]
    response = client.post(f"/chats/{fresh}/rate/", {"comment_head": "Only a comment"})
    assert response.status_code == 200 and response.json()["vote_head"] == 0
    empty = client.post(rate, {"comment_head": "  "})
    assert empty.status_code == 400 and empty.json()["errors"]["__all__"]


def crm_links(client, session_id: int) -> list[dict]:
    response = client.get(f"{SESSIONS}{session_id}/crm/")
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_two_messenger_clients_with_one_name_are_two_people(integrator, agents, line):
    assert line.crm and line.crm_forward and line.crm_create == OpenLine.CrmCreate.LEAD
    first = integrator.send("Hi, I am Carla", msg_id="m-1", user="u-1", chat="c-1").json()["session_id"]
    # Another channel user with the same display name ("Carla Client") writes.
    second = integrator.send("Hello", msg_id="m-2", user="u-2", chat="c-2").json()["session_id"]
    first_lead = crm_links(api_client(agents[0]), first)
    data = detail(api_client(agents[1]), second)
    # Routed by the queue (evenly: the next agent), not to the first Carla's responsible agent.
    assert data["operator"]["id"] == agents[1].pk
    second_lead = crm_links(api_client(agents[1]), second)
    assert [link["type"] for link in second_lead] == ["lead"]
    assert second_lead[0]["id"] != first_lead[0]["id"]


def notes_seen_by(client, session_id: int) -> list[str]:
    response = client.get(f"{SESSIONS}{session_id}/messages/", {"limit": 200})
    assert response.status_code == 200, response.content
    return [m["text"] for m in response.json()["results"] if m["internal"]]


def workspace_status(user, action: str) -> None:
    from django.test import Client

    workspace = Client()
    workspace.force_login(user)
    response = post(workspace, "/agent/api/status/", {"action": action})
    assert response.status_code == 200, response.content


def test_returned_to_the_queue_with_nobody_available_is_noted(integrator, agents, line, admin_user):
    line.check_available = True
    line.save()
    for colleague in agents[1:]:
        workspace_status(colleague, "pause")
    session_id = integrator.send("Hello", msg_id="m-1").json()["session_id"]
    supervisor = api_client(admin_user)
    assert detail(supervisor, session_id)["operator"]["id"] == agents[0].pk
    workspace_status(agents[0], "pause")  # recalled, and nobody else can take it
    data = detail(supervisor, session_id)
    assert data["undistributed"] is True and data["operator"] is None
    assert "Enquiry has been returned to the queue because no agents are available" in notes_seen_by(
        supervisor, session_id
    )


def test_forwarded_with_nobody_available_is_noted(integrator, agents, line, admin_user):
    line.check_available = True
    line.save()
    session_id = integrator.send("Hello", msg_id="m-1").json()["session_id"]
    supervisor = api_client(admin_user)
    assert detail(supervisor, session_id)["operator"]["id"] == agents[0].pk
    from contactcenter.services.availability import presence_disconnect

    for agent in agents:  # everybody closes the workspace (the socket's disconnect)
        presence_disconnect(user_id=agent.pk)
    advance(line.queue_time + 1)
    data = detail(supervisor, session_id)
    assert data["undistributed"] is True and data["operator"] is None
    assert "Enquiry has been returned to the queue because no agents are available" in notes_seen_by(
        supervisor, session_id
    )


# --- 4. One rule for transfer targets and for every "may" the workspace shows -------------------------------


def workspace(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def test_a_user_without_staff_access_is_never_a_transfer_target(integrator, agents, make_user, admin_user):
    outsider = make_user("outsider", first_name="Otto")  # active, but no staff access
    session_id = integrator.send("Hello", msg_id="m-1").json()["session_id"]
    a1 = api_client(agents[0])
    refused = post(a1, f"{SESSIONS}{session_id}/transfer/", {"user_id": outsider.pk})
    assert refused.status_code == 400 and "user_id" in refused.json()["errors"]
    page = workspace(agents[0])
    refused = post(page, f"/agent/api/sessions/{session_id}/transfer/", {"user": outsider.pk})
    assert refused.status_code == 400, refused.content
    targets = page.get("/agent/api/transfer-targets/").json()["agents"]
    assert outsider.pk not in [t["id"] for t in targets] and agents[1].pk in [t["id"] for t in targets]
    chat_list = workspace(admin_user)
    listed = chat_list.get("/chats/")
    assert listed.status_code == 200 and "Otto" not in listed.content.decode()
    chat_list.post("/chats/group/", {"action": "transfer", "ids": [session_id], "to_user": outsider.pk})
    assert detail(a1, session_id)["operator"]["id"] == agents[0].pk  # still theirs
    # A colleague with staff access is accepted everywhere.
    assert post(a1, f"{SESSIONS}{session_id}/transfer/", {"user_id": agents[1].pk}).status_code == 200
    assert detail(api_client(agents[1]), session_id)["operator"]["id"] == agents[1].pk


WORKSPACE_ACTIONS = ["answer", "skip", "pin", "spam", "close", "join", "intercept"]


@pytest.mark.parametrize("who", ["operator", "colleague", "supervisor"])
def test_the_workspace_offers_exactly_the_actions_it_then_accepts(integrator, agents, admin_user, who):
    """Each "may" flag of the workspace, checked against what the same action then does."""
    user = {"operator": agents[0], "colleague": agents[1], "supervisor": admin_user}[who]
    for action in WORKSPACE_ACTIONS:
        chat = f"c-{action}"
        session_id = integrator.send("Hello", msg_id=f"m-{action}", user=chat, chat=chat).json()["session_id"]
        page = workspace(user)
        shown = page.get(f"/agent/api/sessions/{session_id}/")
        if shown.status_code == 403:
            may = False
        else:
            may = shown.json()["may"][action]
        body = {"confirmed": True} if action == "close" else {}
        done = post(page, f"/agent/api/sessions/{session_id}/{action}/", body)
        assert (done.status_code == 200) == may, (who, action, may, done.status_code, done.content)


# --- 3. The consent notice links to the agreement, which records the acceptance -----------------------------


def test_consent_notice_links_to_the_agreement_page_which_records_acceptance(
    integrator, agents, line, callbacks, settings
):
    import re

    from django.test import Client

    from openlines.models import Agreement
    from openlines.session_models import Client as ChatClient

    settings.SITE_URL = "https://cc.example.com"
    agreement = Agreement.objects.create(title="Privacy <policy>", text="We keep <b>your</b> data.\n\nSafe.")
    line.agreement_message, line.agreement = True, agreement
    line.save()
    session_id = integrator.send("Hello", msg_id="m-1").json()["session_id"]
    deliver()
    [notice] = [text for text in callbacks.texts() if "personal data" in text]
    assert "#AGREEMENT#" not in notice
    link = re.search(r"https://cc\.example\.com(/livechat/[\w-]+/agreement/\?c=\S+)", notice)
    assert link, notice
    visitor = Client()
    page = visitor.get(link.group(1))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Privacy &lt;policy&gt;" in html and "We keep &lt;b&gt;your&lt;/b&gt; data." in html
    assert f'lang="{line.language_id}"' in html
    assert ChatClient.objects.get().consent_at is None  # reading is not accepting
    token = link.group(1).split("?c=")[1]
    from urllib.parse import unquote

    accepted = visitor.post(link.group(1).split("?")[0], {"c": unquote(token)})
    assert accepted.status_code == 200
    client = ChatClient.objects.get()
    assert client.consent_at is not None and client.extra["consent_agreement_id"] == agreement.pk
    # The agents see it in the client panel; the conversation was routed meanwhile (a messenger client).
    assert detail(api_client(agents[0]), session_id)["operator"]["id"] == agents[0].pk
    forged = visitor.post(link.group(1).split("?")[0], {"c": "forged"})
    assert forged.status_code == 400


def test_writing_on_after_the_notice_is_consent(integrator, agents, line):
    from openlines.models import Agreement
    from openlines.session_models import Client as ChatClient

    line.agreement_message, line.agreement = True, Agreement.objects.create(title="Terms", text="Terms.")
    line.save()
    integrator.send("Hello", msg_id="m-1")
    assert ChatClient.objects.get().consent_at is None
    integrator.send("Fine, here is my order number", msg_id="m-2")
    assert ChatClient.objects.get().consent_at is not None


# --- Found by the state machine once bots were in it -------------------------------------------------------


def test_an_agent_back_from_a_pause_is_not_offered_a_conversation_a_bot_is_holding(
    integrator, agents, line, admin_user
):
    from openlines.models import ChatBot

    line.queue_type = OpenLine.QueueType.ALL
    line.welcome_bot_enable = True
    line.welcome_bot = ChatBot.objects.create(name="Greeter", script={})
    line.save()
    workspace_status(agents[0], "pause")
    session_id = integrator.send("Hello", msg_id="m-1").json()["session_id"]
    supervisor = api_client(admin_user)
    assert detail(supervisor, session_id)["offered_to"] == []  # the bot has it
    workspace_status(agents[0], "resume")
    assert detail(supervisor, session_id)["offered_to"] == []
    integrator.send("0", msg_id="m-2")  # the client asks for an agent: now everybody gets it
    assert detail(supervisor, session_id)["offered_to"] == [a.pk for a in agents]
