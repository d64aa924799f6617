"""How the CRM hooks into the engine: only through `openlines.signals` and the routing resolver.

The signals are sent inside the engine's transaction, so CRM writes commit or roll back with the change
that caused them.
"""

from __future__ import annotations

from typing import Any

from crm.selectors import crm_responsible_for
from crm.services.activities import (
    activity_answer,
    activity_complete,
    activity_create,
    operator_changed_apply,
)
from crm.services.forms import livechat_form_save
from crm.services.recognition import session_recognize
from crm.services.tracker import chat_tracker_run
from openlines.session_models import Message, Session


def on_session_created(sender: Any, *, session: Session, **kwargs: Any) -> None:
    session_recognize(session=session)
    activity_create(session=session)


def on_client_message(sender: Any, *, session: Session, message: Message, **kwargs: Any) -> None:
    chat_tracker_run(session=session, message=message)


def on_agent_message(sender: Any, *, session: Session, message: Message, **kwargs: Any) -> None:
    activity_answer(session=session, user_id=message.author_id, at=message.created_at)


def on_operator_changed(
    sender: Any, *, session: Session, operator_id: int | None, manual: bool = False, **kwargs: Any
) -> None:
    operator_changed_apply(session=session, operator_id=operator_id, manual=manual)


def on_session_closed(sender: Any, *, session: Session, **kwargs: Any) -> None:
    activity_complete(session=session)


def on_contact_form_filled(
    sender: Any, *, session: Session, name: str = "", phone: str = "", email: str = "", **kwargs: Any
) -> None:
    livechat_form_save(session_id=session.pk, name=name, phone=phone, email=email)


def crm_forward_resolver(session: Session) -> int | None:
    return crm_responsible_for(session)
