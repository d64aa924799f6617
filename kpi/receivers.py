"""How the KPI app follows the engine: its signals and agent availability, nothing else."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from kpi.models import SessionKpi
from kpi.services import clocks
from openlines.session_models import Message, Session


def on_session_created(sender: Any, *, session: Session, **kwargs: Any) -> None:
    # Every session has its KPI row from the start, so that sorting by a KPI figure is an inner join.
    SessionKpi.objects.get_or_create(session=session)


def on_client_message(sender: Any, *, session: Session, message: Message, **kwargs: Any) -> None:
    clocks.clock_start_if_waiting(session=session, message=message, at=message.created_at)


def on_agent_message(sender: Any, *, session: Session, message: Message, **kwargs: Any) -> None:
    clocks.clock_stop_answered(session=session, at=message.created_at)


def on_operator_changed(
    sender: Any, *, session: Session, previous_id: int | None, operator_id: int | None, **kwargs: Any
) -> None:
    clocks.clock_operator_changed(session=session, at=timezone.now())


def on_session_closed(sender: Any, *, session: Session, **kwargs: Any) -> None:
    clocks.clocks_stop_closed(session=session, at=session.date_close or timezone.now())


def on_availability_changed(sender: Any, *, user_id: int, **kwargs: Any) -> None:
    # Sent after commit; the pause is written in its own transaction.
    with transaction.atomic():
        clocks.clocks_pause_sync_for_agent(user_id=user_id)
