"""customer socket -> one committed INSERT -> group_send -> agent socket. Variants come from the environment
(set per daphne process by bench/floor_budget.py): FLOOR_INSERT=orm|raw, FLOOR_THREAD_SENSITIVE=1|0."""

from __future__ import annotations

import os
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import connection, transaction
from django.utils import timezone
from floor_app.models import FloorMessage

AGENTS = int(os.environ.get("FLOOR_AGENTS", "100"))
INSERT = os.environ.get("FLOOR_INSERT", "orm")
THREAD_SENSITIVE = os.environ.get("FLOOR_THREAD_SENSITIVE", "1") == "1"


def store_orm(conversation: int, text: str) -> int:
    with transaction.atomic():
        return int(FloorMessage.objects.create(conversation=conversation, text=text).pk)


def store_raw(conversation: int, text: str) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO floor_message (conversation, text, created) VALUES (%s, %s, %s) RETURNING id",
            [conversation, text, timezone.now()],
        )
        return int(cursor.fetchone()[0])


store = database_sync_to_async(store_orm if INSERT == "orm" else store_raw, thread_sensitive=THREAD_SENSITIVE)


def agent_group(agent: int) -> str:
    return f"agent{agent}"


class CustomerConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.conversation = int(self.scope["url_route"]["kwargs"]["conversation"])
        self.group = agent_group(self.conversation % AGENTS)
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            return
        await store(self.conversation, text_data)
        await self.channel_layer.group_send(self.group, {"type": "customer.message", "text": text_data})


class AgentConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.groups = [agent_group(int(self.scope["url_route"]["kwargs"]["agent"]))]
        # self.groups is joined before connect() runs, so join here; it is still left on disconnect.
        await self.channel_layer.group_add(self.groups[0], self.channel_name)
        await self.accept()

    async def customer_message(self, event: dict[str, Any]) -> None:
        await self.send(text_data=event["text"])


class EchoConsumer(AsyncWebsocketConsumer):
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=text_data, bytes_data=bytes_data)
