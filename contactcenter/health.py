"""Health checks of the parts the product needs: database, migrations, channel layer, background workers.

`/healthz` answers for the process it reaches: 503 when this process cannot serve (database unreachable,
migrations of this release not applied yet, channel layer failing), 200 otherwise. The background workers
run in other processes in the scaled mode, so their state is reported in the body ("degraded") without
failing the check: a load balancer would otherwise take every web process out when the worker stops.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

from contactcenter.heartbeats import TASKS, TIMERS, heartbeat_is_fresh

logger = logging.getLogger(__name__)

CHANNEL_LAYER_TIMEOUT_SECONDS = 2.0


def database_state() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        logger.warning("health: database unreachable: %s", exc)
        return {"ok": False, "vendor": connection.vendor, "error": str(exc)}
    return {"ok": True, "vendor": connection.vendor}


def migrations_state() -> dict[str, Any]:
    """Migrations of this code that the database has not applied (a release deployed before `migrate`)."""
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        logger.warning("health: cannot read the applied migrations: %s", exc)
        return {"ok": False, "error": str(exc)}
    pending = sorted(f"{migration.app_label}.{migration.name}" for migration, _backwards in plan)
    return {"ok": not pending, "pending": pending}


async def channel_layer_state() -> dict[str, Any]:
    """A real round trip through the layer: send to a fresh channel and receive it back."""
    layer = get_channel_layer()
    backend = type(layer).__name__
    try:
        channel = await layer.new_channel()
        await layer.send(channel, {"type": "health.ping"})
        message = await asyncio.wait_for(layer.receive(channel), CHANNEL_LAYER_TIMEOUT_SECONDS)
    except Exception as exc:
        logger.warning("health: channel layer failed: %s", exc)
        return {"ok": False, "backend": backend, "error": str(exc) or type(exc).__name__}
    return {"ok": message.get("type") == "health.ping", "backend": backend}


def workers_state() -> dict[str, Any]:
    timers_ok = heartbeat_is_fresh(name=TIMERS)
    if settings.SCALED_MODE:
        try:
            from django_q.status import Stat

            tasks_ok = bool(Stat.get_all())
        except Exception as exc:
            logger.warning("health: cannot read the task cluster status: %s", exc)
            tasks_ok = False
        task_runner = "qcluster"
    else:
        tasks_ok = heartbeat_is_fresh(name=TASKS)
        task_runner = "embedded"
    return {"ok": timers_ok and tasks_ok, "timers": timers_ok, "tasks": tasks_ok, "task_runner": task_runner}
