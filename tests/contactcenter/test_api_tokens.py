"""Personal API tokens: created in the admin, shown once, hashed, usable as Bearer, revocable; CSRF rules."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from contactcenter.models import ApiToken
from contactcenter.services.api_tokens import api_token_create, api_token_revoke
from tests.access_helpers import drop_default_assignments, fast_passwords, grant  # noqa: F401

pytestmark = pytest.mark.django_db

LINES_URL = "/api/v1/lines/"


@pytest.fixture
def staff(make_user):
    drop_default_assignments()
    user = make_user("integrator", is_staff=True)
    grant(user, lines_view="any", lines_modify="any")
    return user


def _new_line_body(user) -> str:
    return json.dumps({"line_name": "From API", "queue": [{"type": "user", "id": user.pk, "sort": 10}]})


def test_staff_member_creates_a_token_in_the_admin_and_sees_the_key_once(client, staff):
    client.force_login(staff)
    response = client.post("/admin/contactcenter/apitoken/add/", {"name": "CRM sync"}, follow=True)
    assert response.status_code == 200
    token = ApiToken.objects.get()
    assert token.user == staff and token.name == "CRM sync"
    page = response.content.decode()
    key = page.split("copy it now: ", 1)[1].split("<", 1)[0].strip()
    assert key.startswith(f"cc_{token.prefix}_")
    assert key not in token.key_hash  # only a hash is stored
    again = client.get(f"/admin/contactcenter/apitoken/{token.pk}/change/").content.decode()
    assert key not in again
    assert Client().get(LINES_URL, headers={"authorization": f"Bearer {key}"}).status_code == 200


def test_non_superuser_sees_and_creates_only_own_tokens(client, staff, make_user):
    other = make_user("other", is_staff=True)
    api_token_create(user=other, name="theirs")
    api_token_create(user=staff, name="mine")
    client.force_login(staff)
    page = client.get("/admin/contactcenter/apitoken/").content.decode()
    assert "mine" in page and "theirs" not in page
    client.post("/admin/contactcenter/apitoken/add/", {"name": "new", "user": other.pk})
    assert ApiToken.objects.get(name="new").user == staff


def test_bearer_token_authenticates_and_records_last_use(staff):
    token, key = api_token_create(user=staff, name="t")
    response = Client().get(LINES_URL, headers={"authorization": f"Bearer {key}"})
    assert response.status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "header",
    ["Bearer cc_nothere_abc", "Bearer ", "Token abc", "Bearer not-a-cc-key", "Basic dXNlcjpwYXNz"],
)
def test_wrong_or_malformed_token_is_401(staff, header):
    response = Client().get(LINES_URL, headers={"authorization": header})
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert "__all__" in response.json()["errors"]


def test_token_with_the_right_prefix_but_wrong_secret_is_401(staff):
    _token, key = api_token_create(user=staff, name="t")
    response = Client().get(LINES_URL, headers={"authorization": f"Bearer {key[:-3]}xyz"})
    assert response.status_code == 401


def test_revoked_token_is_401(staff):
    token, key = api_token_create(user=staff, name="t")
    api_token_revoke(token=token)
    assert Client().get(LINES_URL, headers={"authorization": f"Bearer {key}"}).status_code == 401


def test_revoking_from_the_admin_list(client, staff):
    token, key = api_token_create(user=staff, name="t")
    client.force_login(staff)
    client.post(
        "/admin/contactcenter/apitoken/",
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked
    assert Client().get(LINES_URL, headers={"authorization": f"Bearer {key}"}).status_code == 401


def test_token_of_a_deactivated_user_is_401(staff):
    _token, key = api_token_create(user=staff, name="t")
    staff.is_active = False
    staff.save()
    assert Client().get(LINES_URL, headers={"authorization": f"Bearer {key}"}).status_code == 401


def test_token_of_a_non_staff_user_is_403(make_user):
    user = make_user("customer")
    _token, key = api_token_create(user=user, name="t")
    assert Client().get(LINES_URL, headers={"authorization": f"Bearer {key}"}).status_code == 403


def test_unauthenticated_request_is_401():
    response = Client().get(LINES_URL)
    assert response.status_code == 401
    assert response.json() == {"errors": {"__all__": [response.json()["errors"]["__all__"][0]]}}


def test_token_requests_need_no_csrf_token(staff):
    _token, key = api_token_create(user=staff, name="t")
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        LINES_URL,
        _new_line_body(staff),
        content_type="application/json",
        headers={"authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201, response.content


def test_session_requests_without_csrf_token_are_refused(staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    response = client.post(LINES_URL, _new_line_body(staff), content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["errors"]["__all__"][0]
    for method in ("patch", "delete"):
        assert getattr(client, method)(f"{LINES_URL}1/").status_code == 403


def test_session_requests_with_csrf_token_are_accepted(staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    client.get("/admin/")  # the admin sets the CSRF cookie, as a browser would have it
    csrf = client.cookies["csrftoken"].value
    response = client.post(
        LINES_URL, _new_line_body(staff), content_type="application/json", headers={"x-csrftoken": csrf}
    )
    assert response.status_code == 201, response.content


def test_session_reads_need_no_csrf_token(staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    assert client.get(LINES_URL).status_code == 200
