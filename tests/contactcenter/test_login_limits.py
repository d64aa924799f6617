"""Failed staff logins are limited per username and per client address (the admin login page every staff
page redirects to): over the limit, even the right password is refused with 429 and a clear form error,
nobody else is affected, and the limit lifts when the window ends."""

from __future__ import annotations

import time

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "pw-123456"


@pytest.fixture(autouse=True)
def small_limits(settings, fresh_cache):
    settings.LOGIN_RATE_LIMIT_FAILURES_PER_USERNAME = 3
    settings.LOGIN_RATE_LIMIT_FAILURES_PER_IP = 5
    settings.LOGIN_RATE_LIMIT_WINDOW_SECONDS = 2


@pytest.fixture
def staff(make_user):
    return lambda name: make_user(name, password=PASSWORD, is_staff=True)


def log_in(username: str, password: str, **meta: str):
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": password}, **meta)
    return response, client


def test_a_username_with_too_many_failures_is_refused_even_with_the_right_password(staff):
    staff("victim")
    staff("colleague")
    for _ in range(3):
        response, _client = log_in("victim", "wrong")
        assert response.status_code == 200
        assert "correct username and password" in response.content.decode()

    refused, client = log_in("victim", PASSWORD)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 2
    assert "Too many failed logins. Try again in 1 minute." in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # The same spelled differently is the same username.
    assert log_in("VICTIM ", PASSWORD)[0].status_code == 429
    # Somebody else, from the same address, is not affected.
    assert log_in("colleague", PASSWORD)[0].status_code == 302

    time.sleep(int(refused["Retry-After"]) + 0.2)
    response, client = log_in("victim", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"]


def test_successful_logins_do_not_count(staff):
    staff("regular")
    assert {log_in("regular", PASSWORD)[0].status_code for _ in range(6)} == {302}


def test_an_address_with_too_many_failures_is_refused_and_others_are_not(staff, settings):
    settings.PROXY_ADDRESS_HEADER = "X-Forwarded-For"
    staff("someone")
    attacker = {"HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    for n in range(5):
        assert log_in(f"guess-{n}", "wrong", **attacker)[0].status_code == 200
    assert log_in("someone", PASSWORD, **attacker)[0].status_code == 429
    assert log_in("someone", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.10")[0].status_code == 302


def test_without_a_proxy_setting_a_forwarded_header_does_not_change_the_address(staff):
    staff("someone")
    for n in range(5):
        response, _client = log_in(f"guess-{n}", "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
        assert response.status_code == 200
    assert log_in("someone", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.99")[0].status_code == 429


def test_staff_can_log_in_while_the_cache_holding_the_counters_is_down(staff, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    staff("during-outage")
    assert log_in("during-outage", "wrong")[0].status_code == 200
    response, client = log_in("during-outage", PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"]


def test_a_forwarded_value_that_is_no_address_counts_as_the_peer(staff, settings):
    settings.PROXY_ADDRESS_HEADER = "X-Real-IP"
    staff("someone")
    for n in range(5):
        assert log_in(f"guess-{n}", "wrong", HTTP_X_REAL_IP=f"not an address {n}")[0].status_code == 200
    # All five counted for the socket peer (127.0.0.1), which a request without the header also is.
    assert log_in("someone", PASSWORD)[0].status_code == 429
    assert log_in("someone", PASSWORD, HTTP_X_REAL_IP="2001:db8::1")[0].status_code == 302
