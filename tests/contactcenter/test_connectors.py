"""Connectors registry and the Contact Center page: kinds, one messenger account per line, credentials
never shown back, connect to a new line, disconnect with confirmation."""

from __future__ import annotations

import logging

import pytest
from django.db import IntegrityError, transaction
from django.test import Client

from contactcenter.connectors.kinds import ConnectorKind
from contactcenter.models import Connector
from contactcenter.services.connectors import connector_create
from openlines.models import OpenLine
from tests.access_helpers import drop_default_assignments, fast_passwords, grant, make_line  # noqa: F401

pytestmark = pytest.mark.django_db

TOKEN = "123456789:AAHsecretTOKENvalue-abcdefghijkl"
OTHER_TOKEN = "987654321:BBHanotherSECRET-zyxwvutsrqpo"


@pytest.fixture
def boss(make_user):
    drop_default_assignments()
    user = make_user("boss", is_staff=True)
    grant(user, lines_view="any", lines_modify="any", connectors_modify="any")
    return user


@pytest.fixture
def client(boss):
    client = Client()
    client.force_login(boss)
    return client


@pytest.fixture
def line(boss):
    return make_line("Support", users=(boss,))


def test_there_is_a_kind_for_every_channel_of_the_issue():
    assert [k.value for k in ConnectorKind] == [
        "livechat",
        "telegram",
        "whatsapp",
        "viber",
        "messenger",
        "instagram",
        "rest",
    ]
    messenger_accounts = {k.value for k in ConnectorKind if k.spec.is_messenger_account}
    assert messenger_accounts == {"telegram", "whatsapp", "viber", "messenger", "instagram"}
    assert all(k.spec.icon_letter and k.spec.color.startswith("#") for k in ConnectorKind)


# --- One messenger account, one line ------------------------------------------------------------


def test_database_refuses_the_same_messenger_account_on_a_second_line(boss):
    Connector.objects.create(kind="telegram", account_id="42", line=make_line("A", users=(boss,)), name="bot")
    with pytest.raises(IntegrityError), transaction.atomic():
        Connector.objects.create(
            kind="telegram", account_id="42", line=make_line("B", users=(boss,)), name="bot"
        )


def test_same_account_id_on_different_platforms_and_blank_accounts_are_fine(boss, line):
    Connector.objects.create(kind="telegram", account_id="42", line=line, name="bot")
    Connector.objects.create(kind="viber", account_id="42", line=line, name="viber")
    Connector.objects.create(kind="livechat", line=line, name="site 1")
    Connector.objects.create(kind="livechat", line=make_line("Other", users=(boss,)), name="site 2")
    assert Connector.objects.count() == 4


def test_one_line_may_have_several_connectors_of_one_kind(line):
    connector_create(kind="telegram", line=line, name="bot 1", secrets={"bot_token": TOKEN})
    connector_create(kind="telegram", line=line, name="bot 2", secrets={"bot_token": OTHER_TOKEN})
    assert line.connectors.count() == 2


def test_connecting_a_bot_already_connected_elsewhere_is_refused_on_the_page(client, boss, line):
    connector_create(
        kind="telegram", line=make_line("Sales", users=(boss,)), name="bot", secrets={"bot_token": TOKEN}
    )
    response = client.post(
        "/contact-center/connect/telegram/", {"line": line.pk, "name": "again", "bot_token": TOKEN}
    )
    assert response.status_code == 200
    assert "already connected" in " ".join(response.context["form"].errors["account_id"])
    assert Connector.objects.count() == 1


def test_a_race_past_the_form_check_still_ends_in_a_field_error(boss, line, monkeypatch):
    from django.core.exceptions import ValidationError

    from contactcenter.services import connectors as service

    connector_create(kind="viber", line=line, name="v", account_id="acc", secrets={"auth_token": "t"})
    monkeypatch.setattr(service, "connector_errors", lambda **kwargs: {})
    with pytest.raises(ValidationError) as error:
        connector_create(kind="viber", line=line, name="v2", account_id="acc", secrets={"auth_token": "t"})
    assert "account_id" in error.value.message_dict


# --- Connecting ---------------------------------------------------------------------------------


def test_telegram_bot_id_is_taken_from_the_token(client, line):
    response = client.post(
        "/contact-center/connect/telegram/", {"line": line.pk, "name": "Shop bot", "bot_token": TOKEN}
    )
    assert response.status_code == 302
    connector = Connector.objects.get()
    assert (connector.kind, connector.account_id, connector.line, connector.name) == (
        "telegram",
        "123456789",
        line,
        "Shop bot",
    )
    assert connector.secrets["bot_token"] == TOKEN


@pytest.mark.parametrize(
    ("kind", "data", "field"),
    [
        ("telegram", {"bot_token": "not a token"}, "bot_token"),
        ("telegram", {}, "bot_token"),
        ("telegram", {"account_id": "555", "bot_token": TOKEN}, "bot_token"),
        ("whatsapp", {"access_token": "x", "app_secret": "y"}, "account_id"),
        ("whatsapp", {"account_id": "1061"}, "access_token"),
        ("viber", {"account_id": "bot"}, "auth_token"),
        ("messenger", {"account_id": "page", "page_access_token": "x"}, "app_secret"),
        ("instagram", {"access_token": "x", "app_secret": "y"}, "account_id"),
    ],
)
def test_missing_or_wrong_credentials_are_shown_next_to_the_field(client, line, kind, data, field):
    response = client.post(f"/contact-center/connect/{kind}/", {"line": line.pk, **data})
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Connector.objects.exists()


def test_live_chat_needs_no_account_and_takes_the_channel_name_by_default(client, line):
    client.post("/contact-center/connect/livechat/", {"line": line.pk})
    connector = Connector.objects.get()
    assert connector.name == "Live chat" and connector.account_id == "" and connector.secrets == {}


def test_unknown_kind_is_404(client):
    assert client.get("/contact-center/connect/icq/").status_code == 404


def test_connecting_to_a_new_line_creates_it_with_me_in_the_queue_and_opens_it(client, boss):
    response = client.post(
        "/contact-center/connect/viber/",
        {"line": "new", "new_line_name": "Viber support", "account_id": "shop", "auth_token": "tok"},
    )
    line = OpenLine.objects.get(line_name="Viber support")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/openlines/openline/{line.pk}/change/"
    assert [m.user for m in line.queue.all()] == [boss]
    assert line.modified_by == boss
    assert line.connectors.get().account_id == "shop"


def test_a_failing_connector_does_not_leave_a_new_line_behind(client, boss):
    connector_create(
        kind="viber",
        line=make_line("Taken", users=(boss,)),
        name="v",
        account_id="shop",
        secrets={"auth_token": "t"},
    )
    response = client.post(
        "/contact-center/connect/viber/", {"line": "new", "account_id": "shop", "auth_token": "tok"}
    )
    assert response.status_code == 200
    assert not OpenLine.objects.exclude(line_name="Taken").exists()


def test_new_line_name_falls_back_to_the_connector_name(client):
    client.post("/contact-center/connect/livechat/", {"line": "new", "name": "Website"})
    assert OpenLine.objects.filter(line_name="Website").exists()


# --- Credentials are never shown back -----------------------------------------------------------


def test_edit_page_shows_that_a_credential_is_set_but_never_its_value(client, line):
    connector = connector_create(kind="telegram", line=line, name="bot", secrets={"bot_token": TOKEN})
    page = client.get(f"/contact-center/connectors/{connector.pk}/").content.decode()
    assert "•••• set" in page
    assert TOKEN not in page and "AAHsecret" not in page
    assert 'type="password"' in page


def test_a_failed_submission_does_not_render_the_typed_credential_back(client, line):
    response = client.post(
        "/contact-center/connect/telegram/", {"line": line.pk, "account_id": "999", "bot_token": TOKEN}
    )
    assert response.status_code == 200 and response.context["form"].errors
    assert TOKEN not in response.content.decode()


def test_empty_credential_keeps_the_stored_one_and_a_new_value_replaces_it(client, line):
    connector = connector_create(
        kind="whatsapp",
        line=line,
        name="wa",
        account_id="1061",
        secrets={"access_token": "old-access", "app_secret": "old-secret", "business_account_id": "w"},
    )
    url = f"/contact-center/connectors/{connector.pk}/"
    client.post(
        url,
        {"name": "wa", "account_id": "1061", "active": "on", "access_token": "", "app_secret": "new-secret"},
    )
    connector.refresh_from_db()
    assert connector.secrets == {
        "access_token": "old-access",
        "app_secret": "new-secret",
        "business_account_id": "w",
    }


def test_deactivating_a_connector_on_the_edit_page(client, line):
    connector = connector_create(kind="livechat", line=line, name="chat")
    client.post(f"/contact-center/connectors/{connector.pk}/", {"name": "chat"})
    connector.refresh_from_db()
    assert connector.active is False


def test_credentials_stay_out_of_str_repr_logs_and_the_admin(client, line, caplog):
    caplog.set_level(logging.DEBUG)
    connector = connector_create(kind="telegram", line=line, name="bot", secrets={"bot_token": TOKEN})
    client.post(
        f"/contact-center/connectors/{connector.pk}/", {"name": "bot", "active": "on", "bot_token": TOKEN}
    )
    assert TOKEN not in str(connector) and TOKEN not in repr(connector)
    assert TOKEN not in caplog.text
    assert caplog.records  # the changes were logged, just without the secret
    for url in (
        "/admin/contactcenter/connector/",
        f"/admin/contactcenter/connector/{connector.pk}/change/",
        "/contact-center/",
    ):
        assert TOKEN not in client.get(url).content.decode()


# --- The page -----------------------------------------------------------------------------------


def test_contact_center_page_shows_a_tile_per_kind_with_the_connected_lines(client, boss, line):
    connector_create(kind="telegram", line=line, name="Shop bot", secrets={"bot_token": TOKEN})
    page = client.get("/contact-center/").content.decode()
    for kind in ConnectorKind:
        assert f'data-kind="{kind.value}"' in page
        assert f"/contact-center/connect/{kind.value}/" in page
    assert "Shop bot" in page and "Support" in page
    assert "/admin/openlines/openline/add/" in page


def test_names_typed_by_users_are_escaped(client, boss):
    hostile = make_line("<script>alert(1)</script>", users=(boss,))
    connector_create(kind="livechat", line=hostile, name="<img src=x onerror=alert(2)>")
    page = client.get("/contact-center/").content.decode()
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_lines_list_shows_the_connected_channels(client, line):
    connector_create(kind="telegram", line=line, name="bot", secrets={"bot_token": TOKEN})
    connector_create(kind="livechat", line=line, name="chat", active=False)
    page = client.get("/admin/openlines/openline/").content.decode()
    assert "Telegram" in page and "Live chat (inactive)" in page


def test_disconnect_asks_first_and_removes_only_after_confirmation(client, line):
    connector = connector_create(kind="livechat", line=line, name="Website chat")
    url = f"/contact-center/connectors/{connector.pk}/disconnect/"
    page = client.get(url).content.decode()
    assert "Website chat" in page and "Yes, disconnect" in page
    assert Connector.objects.filter(pk=connector.pk).exists()
    assert client.post(url).status_code == 302
    connector.refresh_from_db()
    assert connector.is_disconnected and not connector.active
    assert OpenLine.objects.filter(pk=line.pk).exists()


def test_contact_center_needs_a_staff_login():
    response = Client().get("/contact-center/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_connector_admin_links_to_the_contact_center_page(client):
    assert 'href="/contact-center/"' in client.get("/admin/contactcenter/connector/").content.decode()
