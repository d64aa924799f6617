"""Reads about connectors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from contactcenter.connectors.adapters import ADAPTER_KINDS, get_adapter
from contactcenter.connectors.adapters.text import reply_window_state
from contactcenter.models import Connector, OutboundDelivery, UnroutedWebhook
from openlines.models import OpenLine
from openlines.session_models import Message, Session


def line_connector_names(line: OpenLine) -> list[str]:
    """The channels of a line for the list of lines, e.g. ["Telegram", "Live chat"], inactive and
    disconnected ones marked."""
    names = []
    for connector in line.connectors.all():
        label = str(connector.get_kind_display())
        if connector.disconnected_at is not None:
            names.append(_("%(channel)s (disconnected)") % {"channel": label})
        else:
            names.append(label if connector.active else _("%(channel)s (inactive)") % {"channel": label})
    return names


@dataclass(frozen=True)
class ReplyWindow:
    """Whether an agent may write to the client now (WhatsApp, Messenger, Instagram: 24 hours after the
    client's last message; Messenger and Instagram then 7 days more with the HUMAN_AGENT tag)."""

    open: bool
    closes_at: datetime | None
    human_agent_until: datetime | None
    needs_human_agent_tag: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "open": self.open,
            "closes_at": self.closes_at.isoformat() if self.closes_at else None,
            "human_agent_until": self.human_agent_until.isoformat() if self.human_agent_until else None,
            "needs_human_agent_tag": self.needs_human_agent_tag,
        }


def last_client_message_at(chat_id: int) -> datetime | None:
    return (
        Message.objects.filter(chat_id=chat_id, author_type=Message.Author.CLIENT)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )


def reply_window_for_chat(*, kind: str, chat_id: int, now: datetime | None = None) -> ReplyWindow:
    if kind not in ADAPTER_KINDS:
        return ReplyWindow(True, None, None, False)
    state = reply_window_state(
        get_adapter(kind).capabilities, last_client_message_at=last_client_message_at(chat_id), now=now
    )
    return ReplyWindow(
        open=state.free_form_allowed or state.human_agent_tag_allowed,
        closes_at=state.free_form_until
        if state.free_form_allowed or not state.human_agent_tag_allowed
        else state.human_agent_until,
        human_agent_until=state.human_agent_until,
        needs_human_agent_tag=state.needs_human_agent_tag,
    )


def reply_window_for(session: Session, *, now: datetime | None = None) -> ReplyWindow:
    """The reply window of a conversation, for the agent's workspace before they type."""
    return reply_window_for_chat(kind=session.source, chat_id=session.chat_id, now=now)


@dataclass(frozen=True)
class ConnectorHealth:
    last_event_at: datetime | None
    last_error: str
    last_error_at: datetime | None
    pending_retries: int
    failed_deliveries: int


def connector_health(connector: Connector) -> ConnectorHealth:
    """What the channel page shows: the last webhook event, the last error, deliveries still retrying."""
    last_event = (
        connector.webhook_events.order_by("-received_at").values_list("received_at", flat=True).first()
    )
    failed_event = (
        connector.webhook_events.exclude(error="")
        .order_by("-received_at")
        .values("error", "received_at")
        .first()
    )
    failed_delivery = (
        OutboundDelivery.objects.filter(connector=connector)
        .exclude(last_error="")
        .order_by("-id")
        .values("last_error", "created_at")
        .first()
    )
    candidates = []
    if failed_event:
        candidates.append((failed_event["received_at"], failed_event["error"]))
    if failed_delivery:
        candidates.append((failed_delivery["created_at"], failed_delivery["last_error"]))
    error_at, error = max(candidates, key=lambda pair: pair[0]) if candidates else (None, "")
    deliveries = OutboundDelivery.objects.filter(connector=connector)
    return ConnectorHealth(
        last_event_at=last_event,
        last_error=error,
        last_error_at=error_at,
        pending_retries=deliveries.filter(status=OutboundDelivery.Status.PENDING, attempts__gt=0).count(),
        failed_deliveries=deliveries.filter(status=OutboundDelivery.Status.FAILED).count(),
    )


UNROUTED_SHOWN = 50


def unrouted_webhooks() -> list[UnroutedWebhook]:
    """Meta accounts that sent us webhooks no active channel owns, most recent first (an account since
    connected to a channel is no longer listed)."""
    rows = list(UnroutedWebhook.objects.order_by("-last_seen_at", "-id")[: UNROUTED_SHOWN * 2])
    owned = set(
        Connector.objects.filter(active=True, account_id__in=[row.account_id for row in rows]).values_list(
            "kind", "account_id"
        )
    )
    return [row for row in rows if (row.kind, row.account_id) not in owned][:UNROUTED_SHOWN]
