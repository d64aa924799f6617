"""Request ids and the JSON log format: what an operator's log collector reads."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import AsyncClient, Client

from contactcenter.logs import JsonFormatter, RequestContextFilter

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def json_log():
    """The records of django.request (which logs every 4xx/5xx response) as the JSON handler writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    logger.removeHandler(handler)


@pytest.mark.django_db
def test_a_request_id_sent_by_the_proxy_is_returned_and_logged_with_the_user_and_session(agent, json_log):
    client = Client()
    client.force_login(agent)
    response = client.get("/agent/api/sessions/987654/", HTTP_X_REQUEST_ID="edge-42.abc")
    assert response.status_code == 404
    assert response["X-Request-ID"] == "edge-42.abc"
    [entry] = json_log()
    assert entry["request_id"] == "edge-42.abc"
    assert entry["user_id"] == agent.pk
    assert entry["session_id"] == 987654
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "django.request"
    assert "/agent/api/sessions/987654/" in entry["message"]
    assert entry["time"].endswith("+00:00")


@pytest.mark.django_db
def test_without_a_sane_incoming_id_each_request_gets_a_new_one(json_log):
    first = Client().get("/no-such-page/", HTTP_X_REQUEST_ID="bad id\twith spaces")
    second = Client().get("/no-such-page/")
    assert first.status_code == second.status_code == 404
    ids = [first["X-Request-ID"], second["X-Request-ID"]]
    assert len(set(ids)) == 2 and all(len(i) == 32 for i in ids)
    assert [entry["request_id"] for entry in json_log()] == ids
    assert all("user_id" not in entry for entry in json_log())


@pytest.mark.django_db(transaction=True)
async def test_async_views_get_a_request_id_too():
    response = await AsyncClient().get("/healthz", headers={"X-Request-ID": "probe-1"})
    assert response["X-Request-ID"] == "probe-1"


def test_log_format_json_writes_one_object_per_line_from_a_real_process(tmp_path):
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('contactcenter.check').warning('hello \"%s\"', 'world')"
    )
    env = {**os.environ, "DATA_DIR": str(tmp_path), "LOG_FORMAT": "json"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "contactcenter.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    [line] = out.stderr.splitlines()
    entry = json.loads(line)
    assert entry["message"] == 'hello "world"'
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "contactcenter.check"
    assert "request_id" not in entry


def test_an_unknown_log_format_is_refused_at_start(tmp_path):
    out = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, "DATA_DIR": str(tmp_path), "LOG_FORMAT": "xml"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode != 0
    assert "LOG_FORMAT must be 'plain' or 'json'" in out.stderr
