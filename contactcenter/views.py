from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from contactcenter.health import channel_layer_state, database_state, workers_state


@never_cache
@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    database = await sync_to_async(database_state, thread_sensitive=False)()
    channel_layer = await channel_layer_state()
    workers = (
        await sync_to_async(workers_state, thread_sensitive=False)()
        if database["ok"]
        else {"ok": False, "error": "database unreachable"}
    )
    healthy = database["ok"] and channel_layer["ok"] and workers["ok"]
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": database,
        "channel_layer": channel_layer,
        "workers": workers,
    }
    return JsonResponse(body, status=200 if healthy else 503)
