"""Failed staff logins are limited per (username, address) pair with a growing delay and per client
address (the admin login page every staff page redirects to): over the limit, even the right password is
refused with 429 and a clear form error, nobody else is affected (the owner of an attacked username logs in
from their own address), the owner is e-mailed about repeated failures, and the limit lifts in time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

PASSWORD = "pw-123456"


@pytest.fixture(autouse=True)
def small_limits(settings, fresh_cache):
    settings.LOGIN_RATE_LIMIT_FAILURES_PER_USERNAME = 3
    settings.LOGIN_RATE_LIMIT_FAILURES_PER_IP = 5
    settings.LOGIN_RATE_LIMIT_WINDOW_SECONDS = 900


@pytest.fixture
def staff(make_user):
    return lambda name: make_user(name, password=PASSWORD, is_staff=True)


def log_in(username: str, password: str, **meta: str):
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": password}, **meta)
    return response, client


class Clock:
    def __init__(self, monkeypatch):
        self.moment = timezone.now()
        monkeypatch.setattr(timezone, "now", lambda: self.moment)

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture
def lockout(settings):
    settings.PROXY_ADDRESS_HEADER = "X-Real-IP"
    settings.LOGIN_LOCKOUT_FAILURES = 3
    settings.LOGIN_LOCKOUT_BASE_SECONDS = 30
    settings.LOGIN_LOCKOUT_MAX_SECONDS = 100
    settings.LOGIN_RATE_LIMIT_FAILURES_PER_USERNAME = 100
    settings.LOGIN_RATE_LIMIT_FAILURES_PER_IP = 50
    settings.LOGIN_RATE_LIMIT_WINDOW_SECONDS = 900


def test_failures_delay_that_username_from_that_address_only_with_a_growing_delay(staff, lockout, clock):
    staff("victim")
    staff("colleague")
    attacker, owner = {"HTTP_X_REAL_IP": "203.0.113.9"}, {"HTTP_X_REAL_IP": "198.51.100.7"}
    for _ in range(3):
        response, _client = log_in("victim", "wrong", **attacker)
        assert response.status_code == 200
        assert "correct username and password" in response.content.decode()

    refused, client = log_in("victim", PASSWORD, **attacker)
    assert refused.status_code == 429 and refused["Retry-After"] == "30"
    assert "Too many failed logins. Try again in 1 minute." in refused.content.decode()
    assert "_auth_user_id" not in client.session
    # The same spelled differently is the same username.
    assert log_in("VICTIM ", PASSWORD, **attacker)[0].status_code == 429
    # The owner, from their own address, is not locked out; nor is a colleague behind the attacker's.
    response, client = log_in("victim", PASSWORD, **owner)
    assert response.status_code == 302 and client.session["_auth_user_id"]
    assert log_in("colleague", PASSWORD, **attacker)[0].status_code == 302

    clock.advance(31)
    assert log_in("victim", "wrong", **attacker)[0].status_code == 200  # the 4th failure: 60 s
    refused = log_in("victim", PASSWORD, **attacker)[0]
    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    clock.advance(61)
    assert log_in("victim", "wrong", **attacker)[0].status_code == 200  # the 5th: 120 s, capped at 100
    assert log_in("victim", PASSWORD, **attacker)[0]["Retry-After"] == "100"

    clock.advance(101)
    response, client = log_in("victim", PASSWORD, **attacker)
    assert response.status_code == 302 and client.session["_auth_user_id"]
    # A correct login ends the history: the next failure starts counting from one.
    assert log_in("victim", "wrong", **attacker)[0].status_code == 200
    assert log_in("victim", PASSWORD, **attacker)[0].status_code == 302


def test_the_owner_is_told_by_email_once_per_window_about_repeated_failures(
    staff, lockout, settings, mailoutbox
):
    settings.LOGIN_RATE_LIMIT_FAILURES_PER_USERNAME = 4
    user = staff("victim")
    user.email = "victim@example.com"
    user.save()
    for n in range(8):
        log_in("victim", "wrong", HTTP_X_REAL_IP=f"203.0.113.{n}")
    [mail] = mailoutbox
    assert mail.to == ["victim@example.com"] and "failed" in mail.subject
    assert "203.0.113.3" in mail.body and "not locked" in mail.body
    assert log_in("victim", PASSWORD, HTTP_X_REAL_IP="198.51.100.7")[0].status_code == 302


def test_no_email_for_a_username_nobody_has(staff, lockout, settings, mailoutbox):
    settings.LOGIN_RATE_LIMIT_FAILURES_PER_USERNAME = 2
    for n in range(3):
        log_in("nobody", "wrong", HTTP_X_REAL_IP=f"203.0.113.{n}")
    assert mailoutbox == []


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
