"""Shared fixtures: users, an authenticated client, clock helpers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connections

from contactcenter.models import EmployeeProfile


@pytest.fixture
def make_user(db):
    counter = {"n": 0}

    def make(username: str | None = None, *, password: str = "pw-123456", **fields):
        counter["n"] += 1
        username = username or f"user{counter['n']}"
        profile_fields = {
            key: fields.pop(key) for key in ("uses_time_tracking", "openlines_paused") if key in fields
        }
        user = get_user_model().objects.create_user(username=username, password=password, **fields)
        EmployeeProfile.objects.create(user=user, **profile_fields)
        return user

    return make


@pytest.fixture
def agent(make_user):
    return make_user("agent", first_name="Ann", last_name="Agent", is_staff=True)


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw-123456")


def use_fresh_cache_namespace(settings: Any) -> None:
    """Point every cache at a key prefix nobody used, so rate-limit counters start at zero.

    Never `cache.clear()`: in Redis it empties the whole database, under the other xdist worker's
    channel layer, task queue and a running chaos deployment.
    """
    import uuid

    settings.CACHES = {
        alias: {**config, "KEY_PREFIX": f"{config.get('KEY_PREFIX', '')}-t{uuid.uuid4().hex[:12]}"}
        for alias, config in settings.CACHES.items()
    }


@pytest.fixture
def fresh_cache(settings):
    """A cache namespace of this test's own (counters in Redis would otherwise outlive the test)."""
    use_fresh_cache_namespace(settings)


@pytest.fixture(autouse=True)
def no_task_left_by_another_test() -> None:
    """The scaled mode queues tasks in Redis, which outlives a test's database: a task another test queued
    and never ran would run in this one's `run_pending_tasks` (with rows that no longer exist) and could
    push this test's own task past the runner's batch. The embedded mode's queue is a table, emptied with
    the test's database."""
    from django.conf import settings as django_settings

    if django_settings.SCALED_MODE:
        from django_q.brokers import get_broker

        get_broker().purge_queue()


@pytest.fixture(scope="session", autouse=True)
def plain_static_names() -> Iterator[None]:
    """Pages render without `collectstatic` (tests run with DEBUG off, where the hashed names need the
    manifest); tests/contactcenter/test_static_files.py collects and checks the hashed names."""
    from django.conf import settings as django_settings
    from django.test import override_settings

    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(STORAGES={**django_settings.STORAGES, "staticfiles": plain}):
        yield


@pytest.fixture(autouse=True)
def stale_session_writes_raise(settings):
    """A session written from a copy older than its row's last write fails the test (in production it is
    logged): see `openlines.services.lifecycle.session_save`."""
    settings.OPENLINES_STALE_SESSION_WRITES = "raise"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """PBKDF2 at production strength costs ~0.3 s a login; tests do not need that protection."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def outbound_private_networks_allowed(settings):
    """Tests post callbacks to made-up names and 127.0.0.1 (tests/openlines/test_outbound_guard.py turns
    the address rule back on)."""
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture(scope="session", autouse=True)
def close_connection_pools_after_session(django_db_setup, django_db_blocker):
    """Return this thread's connection and close the PostgreSQL pool before the test database is dropped.

    Otherwise the pooled connections left by the browser tests' live server keep the database busy.
    Session fixtures tear down in reverse order, so this runs after the live server stops.
    """
    yield
    from django.db import connections

    connections.close_all()
    for alias in connections:
        close_pool = getattr(connections[alias], "close_pool", None)
        if close_pool is not None:
            close_pool()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextmanager
def launched_chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright; the calling test is skipped where it is not installed.

    Playwright's sync API runs an event loop in the test thread, so Django's async-safety check must be
    relaxed for the test's own ORM calls, and only while the browser runs: `check --deploy` refuses the
    variable, and subprocesses started later must not inherit it.
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no system Chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
        # Connections opened while Playwright's loop ran belong to its context; give them back to the
        # pool, or PostgreSQL keeps the test database busy at the end of the session.
        connections.close_all()


@pytest.fixture
def browser() -> Iterator[Any]:
    with launched_chromium() as chromium:
        yield chromium
