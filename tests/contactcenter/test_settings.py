"""Settings are chosen from the environment alone: each case imports the settings in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json
from django.conf import settings
import django
django.setup()
print(json.dumps({
    "db": settings.DATABASES["default"],
    "layer": settings.CHANNEL_LAYERS["default"],
    "q": settings.Q_CLUSTER,
    "debug": settings.DEBUG,
    "scaled": settings.SCALED_MODE,
    "time_zone": settings.TIME_ZONE,
    "language": settings.LANGUAGE_CODE,
    "hosts": settings.ALLOWED_HOSTS,
}, default=str))
"""

ENV_KEYS = ("DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "TIME_ZONE", "LANGUAGE_CODE")


def load_settings(tmp_path, **env):
    clean = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    clean.update({"DJANGO_SETTINGS_MODULE": "contactcenter.settings", "DATA_DIR": str(tmp_path), **env})
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True, check=False
    )
    return out


def settings_for(tmp_path, **env):
    out = load_settings(tmp_path, **env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_default_is_sqlite_with_immediate_transactions_wal_and_busy_timeout(tmp_path):
    s = settings_for(tmp_path)
    assert s["db"]["ENGINE"] == "django.db.backends.sqlite3"
    assert s["db"]["NAME"] == str(tmp_path / "contactcenter.sqlite3")
    assert s["db"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert s["db"]["OPTIONS"]["timeout"] >= 5
    assert "journal_mode=WAL" in s["db"]["OPTIONS"]["init_command"]
    assert s["layer"]["BACKEND"] == "channels.layers.InMemoryChannelLayer"
    assert s["q"]["orm"] == "default" and "redis" not in s["q"]
    assert s["scaled"] is False


def test_postgres_url_uses_the_psycopg_pool_without_persistent_connections(tmp_path):
    s = settings_for(
        tmp_path, DATABASE_URL="postgres://cc:secret@db.internal:5433/cc", DATABASE_POOL_MAX_SIZE="7"
    )
    assert s["db"]["ENGINE"] == "django.db.backends.postgresql"
    assert s["db"]["HOST"] == "db.internal" and s["db"]["PORT"] == 5433
    assert s["db"]["CONN_MAX_AGE"] == 0
    # Short waits fail fast during an outage (503, contactcenter/outage.py).
    assert s["db"]["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 7, "timeout": 5}
    assert s["db"]["OPTIONS"]["connect_timeout"] == 3


def test_redis_url_selects_redis_channel_layer_and_broker(tmp_path):
    s = settings_for(tmp_path, REDIS_URL="redis://cache.internal:6380/2")
    assert s["layer"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    (host,) = s["layer"]["CONFIG"]["hosts"]
    assert host["address"] == "redis://cache.internal:6380/2"
    # Above channels-redis' 5-second blocking receive, or a busy process drops its sockets with 1011.
    assert host["socket_timeout"] > 5
    assert s["q"]["redis"] == "redis://cache.internal:6380/2" and "orm" not in s["q"]
    assert s["scaled"] is True


def test_locale_time_zone_and_hosts_come_from_the_environment(tmp_path):
    s = settings_for(
        tmp_path, TIME_ZONE="Europe/Prague", LANGUAGE_CODE="cs", ALLOWED_HOSTS="cc.example.com,.example.org"
    )
    assert (s["time_zone"], s["language"]) == ("Europe/Prague", "cs")
    assert s["hosts"] == ["cc.example.com", ".example.org"]


def test_local_secret_key_is_generated_once_and_kept(tmp_path):
    settings_for(tmp_path)
    key = (tmp_path / "secret_key").read_text()
    settings_for(tmp_path)
    assert (tmp_path / "secret_key").read_text() == key
    assert len(key) >= 50


def test_production_refuses_to_start_without_secret_key(tmp_path):
    out = load_settings(tmp_path, DEBUG="false")
    assert out.returncode != 0
    assert "SECRET_KEY" in out.stderr


def test_production_settings_pass_check_deploy(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env.update(
        DATA_DIR=str(tmp_path),
        DEBUG="false",
        SECRET_KEY="x" * 20 + "-production-secret-key-with-enough-entropy-0123456789",
        ALLOWED_HOSTS="cc.example.com",
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/x.sqlite3"])
def test_sqlite_file_url_keeps_the_safe_options(tmp_path, url):
    s = settings_for(tmp_path, DATABASE_URL=url.format(tmp=tmp_path))
    assert s["db"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
