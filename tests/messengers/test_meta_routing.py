"""Meta allows one callback URL per app: every event is routed by the account it names (phone number id,
page id, Instagram id), whichever of our URLs it came to; accounts no channel owns are shown, not lost."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contactcenter.models import Connector, UnroutedWebhook, WebhookEvent
from openlines.session_models import Message
from tests.messengers.conftest import (
    APP_SECRET,
    make_connector,
    meta_signature,
    page_message,
    page_payload,
    url_of,
    whatsapp_payload,
    whatsapp_text,
)

pytestmark = pytest.mark.django_db

META_KINDS = ["whatsapp", "messenger", "instagram"]
OTHER_ACCOUNT = {"whatsapp": "2062", "messenger": "PAGE2", "instagram": "IG2"}


def entry_for(kind: str, account: str, n: int) -> dict[str, Any]:
    """One `entry[]` item of `kind` for our `account`, carrying one client message numbered `n`."""
    if kind == "whatsapp":
        payload = whatsapp_payload(
            messages=[whatsapp_text(f"wamid.{account}.{n}", f"to {account}")], phone_id=account
        )
    else:
        obj = "page" if kind == "messenger" else "instagram"
        payload = page_payload(obj, account, [page_message(account, f"m.{account}.{n}", f"to {account}")])
    return payload["entry"][0]


def batch(kind: str, *accounts: str) -> bytes:
    obj = {"whatsapp": "whatsapp_business_account", "messenger": "page", "instagram": "instagram"}[kind]
    return json.dumps(
        {"object": obj, "entry": [entry_for(kind, a, i) for i, a in enumerate(accounts)]}
    ).encode()


def post(client, url: str, body: bytes, secret: str = APP_SECRET):
    return client.post(
        url, data=body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=meta_signature(body, secret)
    )


@pytest.fixture
def two_channels(line, make_line):
    """Two accounts of one Meta app, each on its own line (the second with its own app secret copy)."""

    def make(kind: str, *, second_secret: str = APP_SECRET) -> tuple[Connector, Connector]:
        first = make_connector(line, kind)
        second = Connector.objects.create(
            kind=kind,
            line=make_line(line_name=f"Sales {kind}"),
            name=f"second {kind}",
            account_id=OTHER_ACCOUNT[kind],
            secrets={**first.secrets, "app_secret": second_secret},
        )
        return first, second

    return make


def texts_of(connector: Connector) -> list[str]:
    return list(
        Message.objects.filter(connector=connector, author_type="client").values_list("text", flat=True)
    )


@pytest.mark.parametrize("kind", META_KINDS)
def test_event_for_another_account_at_a_channels_url_reaches_the_channel_that_owns_it(
    client, two_channels, settle, kind
):
    first, second = two_channels(kind)
    response = settle(lambda: post(client, url_of(first), batch(kind, second.account_id)))
    assert response.status_code == 200
    assert texts_of(second) == [f"to {second.account_id}"]
    assert texts_of(first) == []
    assert Message.objects.get(connector=second, author_type="client").session.line == second.line
    assert not UnroutedWebhook.objects.exists()


@pytest.mark.parametrize("kind", META_KINDS)
def test_one_batch_for_two_accounts_at_one_channels_url_feeds_each_its_own(
    client, two_channels, settle, kind
):
    first, second = two_channels(kind)
    response = settle(lambda: post(client, url_of(first), batch(kind, first.account_id, second.account_id)))
    assert response.status_code == 200
    assert texts_of(first) == [f"to {first.account_id}"]
    assert texts_of(second) == [f"to {second.account_id}"]


@pytest.mark.parametrize("kind", META_KINDS)
def test_each_account_is_verified_with_its_own_channels_app_secret(client, two_channels, settle, kind):
    first, second = two_channels(kind, second_secret="second-app-secret")
    body = batch(kind, second.account_id)
    response = settle(lambda: post(client, url_of(first), body, secret="second-app-secret"))
    assert response.status_code == 200
    assert texts_of(second) == [f"to {second.account_id}"]
    # Signed by the first channel's app, the second account's items are not trusted: counted as unrouted.
    body = batch(kind, second.account_id).replace(b"to ", b"again to ")
    response = settle(lambda: post(client, url_of(first), body))
    assert response.status_code == 200
    assert texts_of(second) == [f"to {second.account_id}"]
    assert UnroutedWebhook.objects.get().account_id == second.account_id
    # A signature no channel's secret makes is still refused.
    assert post(client, url_of(first), body, secret="forged").status_code == 403


@pytest.mark.parametrize("kind", META_KINDS)
def test_account_no_channel_owns_is_acknowledged_recorded_and_shown(
    client, channel, settle, kind, admin_user
):
    connector = channel(kind)
    body = batch(kind, connector.account_id, "999000")
    response = settle(lambda: post(client, url_of(connector), body))
    assert response.status_code == 200  # Meta turns off an app's webhook after failing for long
    assert texts_of(connector) == [f"to {connector.account_id}"]
    settle(lambda: post(client, f"/connectors/{kind}/", batch(kind, "999000")))
    unrouted = UnroutedWebhook.objects.get()
    assert (unrouted.kind, unrouted.account_id, unrouted.count) == (kind, "999000", 2)
    assert WebhookEvent.objects.count() == 1  # only the owned account's event was stored

    client.force_login(admin_user)
    page = client.get("/contact-center/").content.decode()
    assert "Unrouted webhook events" in page and "999000" in page
    # Once the account is connected it is no longer listed.
    Connector.objects.create(
        kind=kind, line=connector.line, name="now ours", account_id="999000", secrets=dict(connector.secrets)
    )
    assert "Unrouted webhook events" not in client.get("/contact-center/").content.decode()


def test_unrouted_account_id_is_escaped_on_the_contact_center_page(client, channel, admin_user):
    connector = channel("messenger")
    body = json.dumps(page_payload("page", "<b>x</b>", [])).encode()
    assert post(client, url_of(connector), body).status_code == 200
    client.force_login(admin_user)
    page = client.get("/contact-center/").content.decode()
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_app_level_url_with_an_unknown_signature_stores_nothing(client, channel):
    channel("messenger")
    response = post(client, "/connectors/messenger/", batch("messenger", "OTHER"), secret="another-app")
    assert response.status_code == 200
    assert not UnroutedWebhook.objects.exists() and not WebhookEvent.objects.exists()


@pytest.mark.parametrize("kind", META_KINDS)
def test_a_deactivated_channels_url_still_routes_the_apps_other_accounts(client, two_channels, settle, kind):
    first, second = two_channels(kind)
    Connector.objects.filter(pk=first.pk).update(active=False)
    response = settle(lambda: post(client, url_of(first), batch(kind, first.account_id, second.account_id)))
    assert response.status_code == 200
    assert texts_of(second) == [f"to {second.account_id}"]
    assert texts_of(first) == []
    assert UnroutedWebhook.objects.get().account_id == first.account_id
    assert post(client, url_of(first), batch(kind, second.account_id), secret="forged").status_code == 403
    assert client.get(url_of(first), {"hub.mode": "subscribe"}).status_code == 404
