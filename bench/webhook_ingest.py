"""Webhook ingest benchmark: acknowledgement latency and throughput of the messenger webhook endpoint,
driving the real ASGI application in-process through httpx.ASGITransport, then the processing of the
stored events by the background task (what turns them into messages and sessions).

Usage (PostgreSQL, scaled mode, a database of its own that this script migrates and fills):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_conn REDIS_URL=redis://127.0.0.1:6379/9 \
        python bench/webhook_ingest.py --requests 2000 --concurrency 8 --kind telegram

Without DATABASE_URL it runs on the embedded SQLite database (DATA_DIR). Prints one Markdown table row.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactcenter.settings")
os.environ.setdefault("DEBUG", "true")  # the production settings also need secrets; logging kept quiet below

import django

django.setup()

import httpx  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

SECRET = "bench-app-secret"


def prepare(kind: str) -> tuple[str, str]:
    """A fresh line and connector; returns (webhook path, per-channel secret)."""
    from contactcenter.models import Connector, WebhookEvent
    from openlines.models import OpenLine

    call_command("migrate", verbosity=0, interactive=False)
    WebhookEvent.objects.all().delete()
    Connector.objects.filter(name="bench").delete()
    line = OpenLine.objects.create(line_name="bench", language_id="en", welcome_message=False)
    secrets = {
        "telegram": {"bot_token": "1:" + "A" * 35, "secret_token": "bench-secret"},
        "whatsapp": {
            "access_token": "t",
            "app_secret": SECRET,
            "verify_token": "v",
            "business_account_id": "w",
        },
    }[kind]
    account = f"bench-{time.time_ns()}"
    connector = Connector.objects.create(
        kind=kind, line=line, name="bench", account_id=account, secrets=secrets, active=True
    )
    return f"/connectors/{kind}/{connector.uuid}/", account


def payload(kind: str, n: int, account: str) -> tuple[bytes, dict[str, str]]:
    now = int(time.time())
    if kind == "telegram":
        body = json.dumps(
            {
                "update_id": n,
                "message": {
                    "message_id": n,
                    "from": {"id": 1000 + n % 500, "is_bot": False, "first_name": "C"},
                    "chat": {"id": 1000 + n % 500, "type": "private"},
                    "date": now,
                    "text": f"hello {n}",
                },
            }
        ).encode()
        return body, {"x-telegram-bot-api-secret-token": "bench-secret", "content-type": "application/json"}
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "w",
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"display_phone_number": "1", "phone_number_id": account},
                                "contacts": [{"profile": {"name": "C"}, "wa_id": str(491500 + n % 500)}],
                                "messages": [
                                    {
                                        "from": str(491500 + n % 500),
                                        "id": f"wamid.{n}",
                                        "timestamp": str(now),
                                        "type": "text",
                                        "text": {"body": f"hello {n}"},
                                    }
                                ],
                            },
                        }
                    ],
                }
            ],
        }
    ).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"x-hub-signature-256": signature, "content-type": "application/json"}


async def drive(
    path: str, kind: str, account: str, requests: int, concurrency: int
) -> tuple[list[float], float]:
    from contactcenter.asgi import application

    latencies: list[float] = []
    transport = httpx.ASGITransport(app=application)
    counter = iter(range(1, requests + 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:

        async def worker() -> None:
            for n in counter:
                body, headers = payload(kind, n, account)
                started = time.perf_counter()
                response = await client.post(path, content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise SystemExit(f"request {n}: {response.status_code} {response.text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, time.perf_counter() - started


def process_all() -> tuple[int, float]:
    """Run the queued processing tasks in this process, as the embedded runner or a q cluster would."""
    from contactcenter.models import WebhookEvent
    from contactcenter.services.webhooks import webhook_event_process

    ids = list(WebhookEvent.objects.filter(processed_at__isnull=True).values_list("pk", flat=True))
    started = time.perf_counter()
    for pk in ids:
        webhook_event_process(pk)
    return len(ids), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--kind", choices=["telegram", "whatsapp"], default="telegram")
    args = parser.parse_args()
    path, account = prepare(args.kind)
    # Warm up: URL resolver, connection pool, first queries.
    asyncio.run(drive(path, args.kind, account, 20, 1))
    from contactcenter.models import WebhookEvent

    WebhookEvent.objects.all().delete()
    path, account = prepare(args.kind)
    latencies, elapsed = asyncio.run(drive(path, args.kind, account, args.requests, args.concurrency))
    processed, processing = process_all()
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    print(
        "| database | kind | requests | concurrency | acks/s | p50 ack ms | p99 ack ms | processed msgs/s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {engine} | {args.kind} | {args.requests} | {args.concurrency} | {args.requests / elapsed:.0f} | "
        f"{p50:.1f} | {p99:.1f} | {processed / processing:.0f} |"
    )


if __name__ == "__main__":
    main()
