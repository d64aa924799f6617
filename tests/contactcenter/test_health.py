from __future__ import annotations

import pytest
from django.test import AsyncClient

from contactcenter.heartbeats import TASKS, TIMERS, heartbeat_beat

pytestmark = pytest.mark.django_db(transaction=True)


async def test_healthz_is_503_when_background_workers_are_not_running():
    response = await AsyncClient().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["channel_layer"]["ok"] is True
    assert body["workers"]["ok"] is False
    assert body["workers"]["timers"] is False


@pytest.mark.skipif(bool(__import__("django.conf").conf.settings.SCALED_MODE), reason="embedded mode only")
async def test_healthz_is_200_with_fresh_heartbeats():
    from asgiref.sync import sync_to_async

    await sync_to_async(heartbeat_beat)(name=TIMERS)
    await sync_to_async(heartbeat_beat)(name=TASKS)
    response = await AsyncClient().get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_healthz_only_answers_get():
    response = await AsyncClient().post("/healthz")
    assert response.status_code == 405
