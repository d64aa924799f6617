from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import OperationalError, connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.migrations.recorder import MigrationRecorder
from django.test import AsyncClient

from contactcenter.heartbeats import TASKS, TIMERS, heartbeat_beat

pytestmark = pytest.mark.django_db(transaction=True)


async def test_healthz_is_200_but_degraded_when_background_workers_are_not_running():
    response = await AsyncClient().get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"]["ok"] is True
    assert body["migrations"] == {"ok": True, "pending": []}
    assert body["channel_layer"]["ok"] is True
    assert body["workers"]["ok"] is False
    assert body["workers"]["timers"] is False


@pytest.mark.skipif(bool(__import__("django.conf").conf.settings.SCALED_MODE), reason="embedded mode only")
async def test_healthz_is_ok_with_fresh_heartbeats():
    await sync_to_async(heartbeat_beat)(name=TIMERS)
    await sync_to_async(heartbeat_beat)(name=TASKS)
    response = await AsyncClient().get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_healthz_is_503_when_the_database_is_unreachable(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "cursor", refuse)
    response = await AsyncClient().get("/healthz")
    monkeypatch.undo()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"]["ok"] is False
    assert "connection refused" in body["database"]["error"]
    assert body["migrations"]["ok"] is False


def _unapply_last_kpi_migration() -> tuple[str, str]:
    recorder = MigrationRecorder(connection)
    last = recorder.migration_qs.filter(app="kpi").order_by("-name").first()
    assert last is not None
    recorder.record_unapplied(last.app, last.name)
    return last.app, last.name


async def test_healthz_is_503_while_migrations_are_pending():
    app, name = await database_sync_to_async(_unapply_last_kpi_migration)()
    try:
        response = await AsyncClient().get("/healthz")
    finally:
        await database_sync_to_async(lambda: MigrationRecorder(connection).record_applied(app, name))()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"]["ok"] is True
    assert body["migrations"] == {"ok": False, "pending": [f"{app}.{name}"]}
    assert (await AsyncClient().get("/healthz")).status_code == 200


async def test_healthz_only_answers_get():
    response = await AsyncClient().post("/healthz")
    assert response.status_code == 405


async def test_healthz_reports_the_version_from_the_package_metadata():
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    response = await AsyncClient().get("/healthz")
    assert response.json()["version"] == pyproject["project"]["version"]
