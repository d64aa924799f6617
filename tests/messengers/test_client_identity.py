"""Who the client is: one WhatsApp person is one client whichever of their ids a payload carries, and
Messenger and Instagram clients get their name from the Graph API (never blank meanwhile)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone

from openlines.session_models import Chat, Client, Message, Session
from tests.messengers.conftest import now_s, ok, page_message, page_payload, post_webhook

pytestmark = pytest.mark.django_db

WA_ID = "4915112345"
BSUID = "US.13491208655302741918"


def wa_payload(wamid: str, *, wa_id: str | None, user_id: str | None) -> dict[str, Any]:
    """A WhatsApp text as Meta sends it to a user with a phone number, a username (BSUID) or both."""
    contact: dict[str, Any] = {"profile": {"name": "Wanda"}}
    message: dict[str, Any] = {
        "id": wamid,
        "timestamp": str(now_s()),
        "type": "text",
        "text": {"body": wamid},
    }
    if wa_id:
        contact["wa_id"] = wa_id
        message["from"] = wa_id
    if user_id:
        contact["user_id"] = user_id
        message["from_user_id"] = user_id
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": "1061"},
        "contacts": [contact],
        "messages": [message],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "waba-1", "changes": [{"field": "messages", "value": value}]}],
    }


@pytest.fixture
def whatsapp(channel, platform):
    platform.on("POST", r"/messages$", ok({"messages": [{"id": "wamid.out"}]}))
    return channel("whatsapp")


@pytest.mark.parametrize(
    "identities",
    [
        [(WA_ID, None), (WA_ID, BSUID), (None, BSUID), (WA_ID, None)],
        [(None, BSUID), (WA_ID, BSUID), (WA_ID, None), (None, BSUID)],
    ],
    ids=["phone-first", "bsuid-first"],
)
def test_whatsapp_person_stays_one_client_whichever_ids_arrive(client, whatsapp, settle, identities):
    for n, (wa_id, user_id) in enumerate(identities):
        payload = wa_payload(f"wamid.{n}", wa_id=wa_id, user_id=user_id)
        response = settle(lambda payload=payload: post_webhook(client, whatsapp, payload))
        assert response.status_code == 200
    person = Client.objects.get()
    assert {person.external_id, person.alias_id} == {WA_ID, BSUID}
    assert person.phone == WA_ID
    assert Chat.objects.count() == 1 and Session.objects.count() == 1
    texts = list(Message.objects.filter(author_type="client").order_by("id").values_list("text", flat=True))
    assert texts == [f"wamid.{n}" for n in range(len(identities))]


def test_first_message_with_both_ids_keeps_the_phone_as_the_alias(client, whatsapp, settle):
    settle(lambda: post_webhook(client, whatsapp, wa_payload("wamid.a", wa_id=WA_ID, user_id=BSUID)))
    settle(lambda: post_webhook(client, whatsapp, wa_payload("wamid.b", wa_id=WA_ID, user_id=None)))
    person = Client.objects.get()
    assert (person.external_id, person.alias_id) == (BSUID, WA_ID)
    assert Session.objects.count() == 1


# --- Messenger and Instagram profiles ------------------------------------------------------------


def client_name_seen_by_the_agent(client) -> str:
    """The client's name as the offered agent's sessions API shows it."""
    session = Session.objects.get()
    client.force_login(session.offers.first().user)
    response = client.get(f"/api/v1/sessions/{session.pk}/")
    assert response.status_code == 200, response.content
    client.logout()
    return response.json()["client"]["name"]


def messenger_message(mid: str, sender: str = "PSID1234") -> dict[str, Any]:
    return page_payload("page", "PAGE1", [page_message("PAGE1", mid, "Hi", sender=sender)])


@pytest.fixture
def messenger(channel, platform):
    platform.on("POST", r"/PAGE1/messages$", ok({"recipient_id": "PSID1234", "message_id": "m.out"}))
    return channel("messenger")


def test_messenger_client_gets_the_name_from_the_user_profile_api(client, messenger, platform, settle):
    platform.on(
        "GET",
        r"/v[\d.]+/PSID1234\?",
        ok(
            {
                "first_name": "Tom",
                "last_name": "Smith",
                "profile_pic": "https://cdn.example/tom.jpg",
                "id": "PSID1234",
            }
        ),
    )
    assert settle(lambda: post_webhook(client, messenger, messenger_message("m.1"))).status_code == 200
    person = Client.objects.get()
    assert person.name == "Tom Smith" and person.avatar_url == "https://cdn.example/tom.jpg"
    assert client_name_seen_by_the_agent(client) == "Tom Smith"
    [lookup] = platform.sent(r"/PSID1234\?")
    assert lookup.url.params["fields"] == "first_name,last_name,profile_pic"
    assert lookup.headers["authorization"] == "Bearer page-token"
    # Cached: the next message asks nothing.
    settle(lambda: post_webhook(client, messenger, messenger_message("m.2")))
    assert len(platform.sent(r"/PSID1234\?")) == 1


def test_profile_failure_never_blocks_the_message_and_leaves_a_readable_name(
    client, messenger, platform, settle, monkeypatch
):
    platform.on("GET", r"/PSID1234\?", httpx.Response(500, json={"error": {"code": 2, "message": "down"}}))
    assert settle(lambda: post_webhook(client, messenger, messenger_message("m.1"))).status_code == 200
    assert Message.objects.get(author_type="client").text == "Hi"
    person = Client.objects.get()
    assert person.name == "Facebook Messenger user 1234"
    assert client_name_seen_by_the_agent(client) == "Facebook Messenger user 1234"
    # Not asked again on every message, but again after an hour.
    settle(lambda: post_webhook(client, messenger, messenger_message("m.2")))
    assert len(platform.sent(r"/PSID1234\?")) == 1
    later = timezone.now() + timedelta(hours=2)
    monkeypatch.setattr(timezone, "now", lambda: later)
    platform.routes.clear()
    platform.on("POST", r"/PAGE1/messages$", ok({"recipient_id": "PSID1234", "message_id": "m.out"}))
    platform.on("GET", r"/PSID1234\?", ok({"first_name": "Tom", "id": "PSID1234"}))
    settle(lambda: post_webhook(client, messenger, messenger_message("m.3")))
    assert Client.objects.get().name == "Tom"


def test_profile_is_refreshed_after_a_week_but_a_name_set_by_hand_is_kept(
    client, messenger, platform, settle, monkeypatch
):
    platform.on(
        "GET", r"/PSID1234\?", ok({"first_name": "Tom", "id": "PSID1234"}), ok({"first_name": "Thomas"})
    )
    settle(lambda: post_webhook(client, messenger, messenger_message("m.1")))
    assert Client.objects.get().name == "Tom"
    week = timezone.now() + timedelta(days=8)
    monkeypatch.setattr(timezone, "now", lambda: week)
    settle(lambda: post_webhook(client, messenger, messenger_message("m.2")))
    assert Client.objects.get().name == "Thomas"
    Client.objects.update(name="Tom (VIP)")
    later = week + timedelta(days=8)
    monkeypatch.setattr(timezone, "now", lambda: later)
    settle(lambda: post_webhook(client, messenger, messenger_message("m.3")))
    assert len(platform.sent(r"/PSID1234\?")) == 3
    assert Client.objects.get().name == "Tom (VIP)"


def test_instagram_client_gets_name_and_username_on_the_igsid(client, channel, platform, settle):
    connector = channel("instagram")
    platform.on("POST", r"/me/messages$", ok({"recipient_id": "IGSID9", "message_id": "ig.out"}))
    platform.on(
        "GET",
        r"graph\.instagram\.com/v[\d.]+/IGSID9\?",
        ok({"name": "Ina", "username": "ina.shop", "profile_pic": "https://cdn.example/ina.jpg"}),
    )
    payload = page_payload("instagram", "IG1", [page_message("IG1", "ig.1", "Hi", sender="IGSID9")])
    settle(lambda: post_webhook(client, connector, payload))
    person = Client.objects.get()
    assert person.name == "Ina" and person.profile_url == "https://www.instagram.com/ina.shop/"
    [lookup] = platform.sent(r"/IGSID9\?")
    assert lookup.url.params["fields"] == "name,username,profile_pic"
    assert lookup.headers["authorization"] == "Bearer ig-token"


def test_instagram_without_a_name_shows_the_username(client, channel, platform, settle):
    connector = channel("instagram")
    platform.on("POST", r"/me/messages$", ok({"recipient_id": "IGSID9", "message_id": "ig.out"}))
    platform.on("GET", r"/IGSID9\?", ok({"username": "ina.shop"}))
    payload = page_payload("instagram", "IG1", [page_message("IG1", "ig.1", "Hi", sender="IGSID9")])
    settle(lambda: post_webhook(client, connector, payload))
    assert Client.objects.get().name == "@ina.shop"
