"""The REST connector, inbound: credentials shown once and stored hashed, token auth, idempotent ingest of
single and batched messages, validation errors with field paths, ratings, delivery receipts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from contactcenter.connectors import rest
from contactcenter.models import Connector
from contactcenter.services.rest_connector import rest_connector_token_rotate
from openlines.services import actions
from openlines.session_models import Client as ChatClient
from openlines.session_models import Message, Session, SessionStatus
from tests.access_helpers import grant
from tests.api.conftest import api_client, patch, post

pytestmark = pytest.mark.django_db(transaction=True)


def stored_client_messages() -> int:
    return Message.objects.filter(author_type="client").count()


# --- Credentials and settings (staff) -----------------------------------------------------------------------


@pytest.fixture
def admin_api(make_user):
    admin = make_user("integration-admin", is_staff=True)
    grant(admin, connectors_modify="any", lines_view="any")
    return api_client(admin)


def test_credentials_are_shown_once_and_only_the_token_hash_is_stored(admin_api, connector):
    url = f"/api/v1/connectors/{connector.uuid}/rest-credentials/"
    response = post(admin_api, url)
    assert response.status_code == 201 and response["Cache-Control"] == "no-store"
    token = response.json()["token"]
    connector.refresh_from_db()
    assert token not in str(connector.secrets) and connector.secrets[rest.TOKEN_HASH] == rest.token_hash(
        token
    )
    assert connector.secrets[rest.SIGNING_SECRET] == response.json()["signing_secret"]
    settings = admin_api.get(f"/api/v1/connectors/{connector.uuid}/rest-settings/").json()
    assert settings["token_set"] is True and token not in str(settings)


def test_rotating_the_credentials_revokes_the_old_token(admin_api, integrator):
    old = integrator.token
    new = post(admin_api, f"/api/v1/connectors/{integrator.connector.uuid}/rest-credentials/").json()["token"]
    assert integrator.send("hi", msg_id="1").status_code == 401
    integrator.token = new
    assert integrator.send("hi", msg_id="1").status_code == 201
    assert old != new


def test_callback_url_is_set_and_validated(admin_api, connector):
    url = f"/api/v1/connectors/{connector.uuid}/rest-settings/"
    response = patch(admin_api, url, {"callback_url": "https://example.org/hook"})
    assert response.status_code == 200 and response.json()["callback_url"] == "https://example.org/hook"
    assert response.json()["messages_url"].endswith(f"/api/v1/connectors/{connector.uuid}/messages/")
    bad = patch(admin_api, url, {"callback_url": "javascript:alert(1)"})
    assert bad.status_code == 400 and "callback_url" in bad.json()["errors"]
    assert patch(admin_api, url, {"callback": "https://x.org"}).status_code == 400


def test_staff_without_the_connectors_permission_cannot_manage_it(make_user, connector):
    viewer = make_user("viewer", is_staff=True)
    grant(viewer, lines_view="any")
    client = api_client(viewer)
    assert client.get(f"/api/v1/connectors/{connector.uuid}/rest-settings/").status_code == 200
    assert post(client, f"/api/v1/connectors/{connector.uuid}/rest-credentials/").status_code == 403
    nobody = api_client(make_user("nobody", is_staff=True))
    assert nobody.get(f"/api/v1/connectors/{connector.uuid}/rest-settings/").status_code == 404


def test_only_rest_connectors_have_these_endpoints(admin_api, line):
    telegram = Connector.objects.create(kind="telegram", line=line, name="TG", account_id="123")
    assert post(admin_api, f"/api/v1/connectors/{telegram.uuid}/rest-credentials/").status_code == 404


# --- Authentication -----------------------------------------------------------------------------------------


def test_auth_missing_bad_unknown_and_switched_off(integrator):
    body = {
        "user": {"id": 1, "name": "A"},
        "chat": {"id": 1},
        "message": {"id": 1, "date": 1773265993, "text": "x"},
    }
    url = f"{integrator.base}/messages/"
    assert post(Client(), url, body).status_code == 401
    assert post(Client(), url, body, authorization="Basic abc").status_code == 401
    assert integrator.post("messages/", body, token="ccr_wrong").status_code == 401
    assert (
        post(
            Client(),
            "/api/v1/connectors/00000000-0000-4000-8000-000000000000/messages/",
            body,
            authorization=f"Bearer {integrator.token}",
        ).status_code
        == 404
    )
    Connector.objects.filter(pk=integrator.connector.pk).update(active=False)
    assert integrator.post("messages/", body).status_code == 403
    assert stored_client_messages() == 0


def test_a_connector_without_credentials_accepts_no_token(connector):
    body = {
        "user": {"id": 1, "name": "A"},
        "chat": {"id": 1},
        "message": {"id": 1, "date": 1773265993, "text": "x"},
    }
    url = f"/api/v1/connectors/{connector.uuid}/messages/"
    assert post(Client(), url, body, authorization="Bearer " + rest.token_hash("")).status_code == 401


def test_token_of_another_connector_is_refused(integrator, make_line, agents):
    other = Connector.objects.create(kind="rest", line=make_line(line_name="Other"), name="Other")
    other_token = rest_connector_token_rotate(connector=other).token
    assert integrator.send("hi", msg_id="1").status_code == 201
    integrator.token = other_token
    assert integrator.send("hi", msg_id="2").status_code == 401


# --- Ingest -------------------------------------------------------------------------------------------------


def test_first_message_starts_a_session_and_replays_store_nothing(integrator, agents):
    first = integrator.send("My order is late", msg_id="ext-1")
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["duplicate"] is False and set(body) == {"session_id", "message_id", "duplicate"}
    for _ in range(10):
        again = integrator.send("My order is late", msg_id="ext-1")
        assert again.status_code == 200
        assert again.json() == {**body, "duplicate": True}
    assert stored_client_messages() == 1
    session = Session.objects.get(pk=body["session_id"])
    assert session.operator_id == agents[0].pk
    client = ChatClient.objects.get()
    assert client.external_id == "u-1" and client.name == "Carla Client"
    assert session.chat.external_chat_id == "c-1"


def test_profile_fields_and_iso_dates_are_taken(integrator):
    body = {
        "user": {
            "id": 42,
            "name": "Ivan",
            "last_name": "Ivanov",
            "email": "ivan@example.com",
            "phone": "+19990000000",
            "picture": {"url": "https://example.com/u42.png"},
            "url": "https://example.com/users/42",
        },
        "chat": {"id": "channel-123", "name": "Support Channel", "url": "https://example.com/chats/123"},
        "message": {
            "id": "ext-msg-1001",
            "date": "2026-01-02T03:04:05+00:00",
            "text": "Good afternoon",
            "files": [{"url": "https://example.com/files/spec.pdf", "name": "spec.pdf"}],
        },
    }
    assert integrator.post("messages/", body).status_code == 201
    client = ChatClient.objects.get()
    assert (client.external_id, client.name, client.email, client.phone) == (
        "42",
        "Ivan Ivanov",
        "ivan@example.com",
        "+19990000000",
    )
    assert (
        client.avatar_url == "https://example.com/u42.png"
        and client.profile_url == "https://example.com/users/42"
    )
    message = Message.objects.get(author_type="client")
    assert message.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert message.attachments == [
        {"kind": "file", "url": "https://example.com/files/spec.pdf", "name": "spec.pdf"}
    ]


def test_batch_answers_per_item_in_order(integrator):
    integrator.send("first", msg_id="a")
    items = [
        {
            "user": {"id": "u-1", "name": "C"},
            "chat": {"id": "c-1"},
            "message": {"id": "a", "date": 1773265993, "text": "first"},
        },
        {
            "user": {"id": "u-1", "name": "C"},
            "chat": {"id": "c-1"},
            "message": {"id": "b", "date": 1773265994, "text": "second"},
        },
        {
            "user": {"id": "u-1"},
            "chat": {"id": "c-1"},
            "message": {"id": "c", "date": 1773265995, "text": "third"},
        },
        {
            "user": {"id": "u-2", "name": "D"},
            "chat": {"id": "c-9"},
            "message": {"id": "d", "date": 1773265996, "text": "hi"},
        },
    ]
    response = integrator.post("messages/", {"messages": items})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["status"] for r in results] == [200, 201, 400, 201]
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert results[0]["duplicate"] and not results[1]["duplicate"]
    assert results[1]["session_id"] == results[0]["session_id"] != results[3]["session_id"]
    assert results[2]["errors"] == {"user.name": ["This field is required."]}
    assert list(Message.objects.filter(author_type="client").values_list("external_id", flat=True)) == [
        "a",
        "b",
        "d",
    ]


@pytest.mark.parametrize(
    "body",
    [{"messages": []}, {"messages": "x"}, {"messages": [{}] * 101}, {"messages": [], "user": {}}],
)
def test_bad_batches_are_400(integrator, body):
    assert integrator.post("messages/", body).status_code == 400


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("user"), "user"),
        (lambda b: b.update(extra=1), "__all__"),
        (lambda b: b["user"].pop("id"), "user.id"),
        (lambda b: b["user"].update(id=True), "user.id"),
        (lambda b: b["user"].update(id="x" * 256), "user.id"),
        (lambda b: b["user"].update(name=""), "user.name"),
        (lambda b: b["user"].update(email="not-an-email"), "user.email"),
        (lambda b: b["user"].update(picture={"url": "data:x"}), "user.picture.url"),
        (lambda b: b["user"].update(gender="x"), "user"),
        (lambda b: b["chat"].pop("id"), "chat.id"),
        (lambda b: b.update(chat="c-1"), "chat"),
        (lambda b: b["message"].pop("id"), "message.id"),
        (lambda b: b["message"].pop("date"), "message.date"),
        (lambda b: b["message"].update(date=1773265993000), "message.date"),
        (lambda b: b["message"].update(date="yesterday"), "message.date"),
        (lambda b: b["message"].update(date="2026-02-30T00:00:00"), "message.date"),
        (lambda b: b["message"].update(text=""), "message.text"),
        (lambda b: b["message"].update(text="x" * 20001), "message.text"),
        (lambda b: b["message"].update(files=[{"url": "ftp://x/y"}]), "message.files[0].url"),
        (lambda b: b["message"].update(files=[{"url": "https://x/y", "size": 3}]), "message.files[0]"),
        (lambda b: b["message"].update(rating="great"), "message.rating"),
        (lambda b: b["message"].update(rating="like"), "message.rating"),  # together with text
    ],
)
def test_invalid_messages_are_400_with_the_field_path(integrator, change, field):
    body = {
        "user": {"id": "u-1", "name": "C"},
        "chat": {"id": "c-1"},
        "message": {"id": "m", "date": 1773265993, "text": "x"},
    }
    change(body)
    response = integrator.post("messages/", body)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert stored_client_messages() == 0


def test_body_that_is_not_a_json_object_is_400(integrator):
    response = Client().post(
        f"{integrator.base}/messages/",
        "[1,2]",
        content_type="application/json",
        headers={"authorization": f"Bearer {integrator.token}"},
    )
    assert response.status_code == 400


# --- Ratings ------------------------------------------------------------------------------------------------


def _closed_asking_for_rating(integrator, agents, **line_settings):
    session_id = integrator.send("Hi", msg_id="m1").json()["session_id"]
    line = Session.objects.get(pk=session_id).line
    for name, value in line_settings.items():
        setattr(line, name, value)
    line.save()
    actions.message_send(user=agents[0], session_id=session_id, text="Done")
    actions.session_close(user=agents[0], session_id=session_id)
    return session_id


def test_rating_as_data_rates_the_conversation(integrator, agents):
    session_id = _closed_asking_for_rating(integrator, agents)
    response = integrator.send(None, msg_id="r1", rating="like")
    assert response.status_code == 201 and response.json()["session_id"] == session_id
    session = Session.objects.get(pk=session_id)
    assert session.vote == 5 and not session.wait_vote
    stored = Message.objects.get(external_id="r1")
    assert stored.text == "1" and stored.attachments == [{"kind": "rating", "vote": "like"}]
    assert integrator.send(None, msg_id="r1", rating="like").json()["duplicate"] is True


def test_rating_with_closing_delay_closes_the_session(integrator, agents):
    session_id = _closed_asking_for_rating(integrator, agents, vote_closing_delay=True)
    assert integrator.send(None, msg_id="r1", rating="dislike").status_code == 201
    session = Session.objects.get(pk=session_id)
    assert session.closed and session.vote == 1


def test_rating_when_nothing_waits_for_one_is_409_and_stores_nothing(integrator, line):
    line.vote_before_finish = False
    line.save()
    integrator.send("Hi", msg_id="m1")
    response = integrator.send(None, msg_id="r1", rating="like")
    assert response.status_code == 409 and "message.rating" in response.json()["errors"]
    assert not Message.objects.filter(external_id="r1").exists()


def test_rating_during_the_conversation_where_the_line_allows_it(integrator, agents, line):
    assert line.vote_before_finish  # the reference's default
    session_id = integrator.send("Hi", msg_id="m1").json()["session_id"]
    assert integrator.send(None, msg_id="r1", rating="like").status_code == 201
    assert Session.objects.get(pk=session_id).vote == 5


def test_typed_one_rates_as_in_other_messengers(integrator, agents):
    session_id = _closed_asking_for_rating(integrator, agents)
    assert integrator.send("1", msg_id="r1").status_code == 201
    assert Session.objects.get(pk=session_id).vote == 5


def test_rating_after_the_time_limit_is_refused_with_a_message_not_an_error(integrator, agents, line):
    session_id = _closed_asking_for_rating(integrator, agents, full_close_time=0, vote_time_limit=86400)
    Session.objects.filter(pk=session_id).update(date_close_vote=datetime.now(tz=UTC) - timedelta(seconds=1))
    response = integrator.send("0", msg_id="late")
    assert response.status_code == 201, response.content
    assert "passed" in response.json()["rating_refused"]
    session = Session.objects.get(pk=session_id)
    assert session.vote == 0 and session.closed
    texts = list(Message.objects.filter(session=session).values_list("text", flat=True))
    assert texts[-1].startswith("Sorry, the time for rating")


# --- Delivery receipts --------------------------------------------------------------------------------------


def test_receipts_move_forward_only(integrator, agents):
    session_id = integrator.send("Hi", msg_id="m1").json()["session_id"]
    reply = actions.message_send(user=agents[0], session_id=session_id, text="Hello!")
    assert integrator.post("status/", {"messages": [{"id": reply.pk, "status": "read"}]}).json() == {
        "results": [{"id": reply.pk, "result": "ok"}]
    }
    assert (
        integrator.post("status/", {"messages": [{"id": reply.pk, "status": "delivered"}]}).status_code == 200
    )
    assert Message.objects.get(pk=reply.pk).delivery == "read"


def test_receipts_for_messages_that_are_not_ours_are_not_found(integrator, agents, make_line):
    session_id = integrator.send("Hi", msg_id="m1").json()["session_id"]
    client_message = Message.objects.get(external_id="m1")
    internal = Message.objects.filter(session_id=session_id, internal=True).first()
    other_line = make_line(line_name="Other")
    other = Connector.objects.create(kind="rest", line=other_line, name="Other")
    from openlines.services.ingest import InboundClient, InboundMessage, message_ingest

    foreign = message_ingest(
        connector=other,
        client=InboundClient(external_id="z"),
        message=InboundMessage(external_id="z1", text="x"),
    )
    foreign_reply = actions.message_send(user=agents[0], session_id=foreign.session.pk, text="x")
    ids = [client_message.pk, foreign_reply.pk, 999999] + ([internal.pk] if internal else [])
    response = integrator.post("status/", {"messages": [{"id": i, "status": "delivered"} for i in ids]})
    assert {r["result"] for r in response.json()["results"]} == {"not_found"}
    assert Message.objects.get(pk=foreign_reply.pk).delivery != "delivered"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": [{"id": "1", "status": "read"}]}, "messages[0].id"),
        ({"messages": [{"id": 1, "status": "sent"}]}, "messages[0].status"),
        ({"messages": [{"id": 1, "status": "read", "at": 1}]}, "messages[0]"),
        ({"messages": [], "x": 1}, "__all__"),
    ],
)
def test_bad_receipts_are_400(integrator, body, field):
    response = integrator.post("status/", body)
    assert response.status_code == 400 and field in response.json()["errors"]


def test_closed_session_status_is_reported(integrator, agents):
    session_id = integrator.send("Hi", msg_id="m1").json()["session_id"]
    actions.session_spam(user=agents[0], session_id=session_id)
    assert Session.objects.get(pk=session_id).status == SessionStatus.SPAM
    again = integrator.send("Hello?", msg_id="m2")
    assert again.status_code == 201 and again.json()["session_id"] != session_id


def test_receipt_ids_beyond_64_bits_are_400(integrator):
    response = integrator.post("status/", {"messages": [{"id": 2**70, "status": "read"}]})
    # Refused for every endpoint by the JSON body reader, before any field rule or query runs.
    assert response.status_code == 400 and "messages" in response.json()["errors"]


def test_credentials_from_the_command_line(connector, capsys):
    from django.core.management import CommandError, call_command

    call_command(
        "rest_connector_credentials", str(connector.uuid), "--callback-url", "https://example.org/in"
    )
    out = capsys.readouterr().out
    token = out.split("token: ", 1)[1].split()[0]
    connector.refresh_from_db()
    assert rest.token_matches(connector=connector, token=token)
    assert connector.secrets[rest.CALLBACK_URL] == "https://example.org/in"
    with pytest.raises(CommandError):
        call_command("rest_connector_credentials", str(connector.uuid), "--callback-url", "not a url")
    with pytest.raises(CommandError):
        call_command("rest_connector_credentials", "00000000-0000-4000-8000-000000000000")
