"""`check --deploy` refuses placeholder and weak SECRET_KEYs; staff pages carry a Content-Security-Policy
without inline scripts and may not be framed, while the widget's own page may be framed by any site."""

from __future__ import annotations

import secrets

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from openlines.models import OpenLine

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "key",
    [
        "change-me-to-a-long-random-value-shared-by-all-processes",
        "CHANGE_ME_TO_A_LONG_RANDOM_VALUE_SHARED_BY_ALL_PROCESSES",
        "django-insecure-" + secrets.token_urlsafe(40),
        "my-very-long-and-memorable-secret-phrase-for-the-contact-center",
        secrets.token_urlsafe(20),
        "ab" * 40,
        "0123456789" * 6,
    ],
    ids=["example", "example-shouted", "django-insecure", "phrase", "short", "two-characters", "pattern"],
)
def test_check_deploy_refuses_placeholder_and_weak_secret_keys(settings, key):
    settings.SECRET_KEY = key
    with pytest.raises(SystemCheckError, match=r"contactcenter\.E001"):
        call_command("check", deploy=True, tags=["security"])


@pytest.mark.parametrize(
    "key",
    [secrets.token_urlsafe(50), secrets.token_hex(32), secrets.token_urlsafe(38)],
    ids=["urlsafe-50", "hex-32", "urlsafe-38"],
)
def test_check_deploy_accepts_random_keys(settings, key, capsys):
    settings.SECRET_KEY = key
    settings.DEBUG = False
    call_command("check", deploy=True, tags=["security"], fail_level="ERROR")


def staff_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


@pytest.mark.parametrize(
    "url", ["/admin/", "/agent/", "/chats/", "/reports/", "/contact-center/", "/api/v1/docs/"]
)
def test_staff_pages_carry_a_policy_without_inline_scripts_and_are_not_frameable(admin_user, url):
    response = staff_client(admin_user).get(url)
    assert response.status_code == 200, url
    policy = response["Content-Security-Policy"]
    script_src = next(d for d in policy.split("; ") if d.startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    assert "'nonce-" in script_src
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    # Every script the page has is a file (or carries the nonce).
    html = response.content.decode()
    nonce = script_src.split("'nonce-")[1].split("'")[0]
    for tag in html.split("<script")[1:]:
        opening = tag.split(">", 1)[0]
        assert "src=" in opening or f'nonce="{nonce}"' in opening or "application/json" in opening, opening


def test_the_login_page_has_the_policy_too():
    response = Client().get("/admin/login/")
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_the_widget_page_may_be_framed_and_the_widget_script_embeds_anywhere(fresh_cache):
    OpenLine.objects.create(code="site", line_name="Web")
    page = Client().get("/livechat/site/")
    assert page.status_code == 200
    assert "X-Frame-Options" not in page and "Content-Security-Policy" not in page
    # The policy is only for HTML: the widget's script and its JSON endpoints carry none.
    session = Client().post("/livechat/site/session/", "{}", content_type="application/json")
    assert session.status_code == 200 and "Content-Security-Policy" not in session
