"""The chat-list columns a user chose."""

from __future__ import annotations

from kpi.columns import columns_clean
from kpi.models import ChatListPreference


def chat_list_columns_set(*, user_id: int, columns: list[str]) -> list[str]:
    cleaned = columns_clean(columns)
    ChatListPreference.objects.update_or_create(user_id=user_id, defaults={"columns": cleaned})
    return cleaned
