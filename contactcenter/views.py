from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from contactcenter.health import channel_layer_state, database_state, migrations_state, workers_state
from contactcenter.version import VERSION


def _database_checks() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    try:
        database = database_state()
        if not database["ok"]:
            unreachable = {"ok": False, "error": "database unreachable"}
            return database, unreachable, unreachable
        migrations = migrations_state()
        if not migrations["ok"]:
            # The heartbeat tables may not exist yet.
            return database, migrations, {"ok": False, "error": "migrations pending"}
        return database, migrations, workers_state()
    finally:
        # This runs in an executor thread outside the request cycle: hand the connection back to the
        # pool, or every such thread would keep one checked out for good.
        close_old_connections()


@never_cache
@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    """200 when this process can serve, 503 when it cannot; see contactcenter.health for what counts."""
    database, migrations, workers = await sync_to_async(_database_checks, thread_sensitive=False)()
    channel_layer = await channel_layer_state()
    serving = database["ok"] and migrations["ok"] and channel_layer["ok"]
    status = "unavailable" if not serving else "ok" if workers["ok"] else "degraded"
    body = {
        "status": status,
        "version": VERSION,
        "database": database,
        "migrations": migrations,
        "channel_layer": channel_layer,
        "workers": workers,
    }
    return JsonResponse(body, status=200 if serving else 503)
