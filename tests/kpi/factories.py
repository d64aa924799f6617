"""Sessions made directly in the database for list and report tests (the engine path is tested elsewhere)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from contactcenter.models import Connector
from crm.models import Lead, SessionCrmBinding
from crm.services.records import lead_status_initial
from kpi.models import SessionKpi
from openlines.models import OpenLine
from openlines.session_models import Chat, Client, Message, Session

_n = itertools.count(1)


def make_session(
    line: OpenLine, *, client_name: str = "", source: str = "rest", kpi: dict | None = None, **fields: Any
) -> Session:
    n = next(_n)
    connector = Connector.objects.filter(line=line, kind=source).first() or Connector.objects.create(
        kind=source, line=line, name=f"{source} {n}", account_id=f"acc-{n}"
    )
    client = Client.objects.create(
        connector=connector,
        external_id=f"c{n}",
        name=client_name or f"Client {n}",
    )
    crm_lead = fields.pop("crm_lead", "")
    chat = Chat.objects.create(line=line, client=client, external_chat_id=f"c{n}")
    fields.setdefault("created_at", datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    fields.setdefault("status", 60)
    fields.setdefault("closed", fields["status"] >= 60)
    session = Session.objects.create(line=line, chat=chat, source=source, **fields)
    SessionKpi.objects.create(session=session, **(kpi or {}))  # as the session_created receiver does
    if crm_lead:
        lead = Lead.objects.create(title=crm_lead, status=lead_status_initial())
        SessionCrmBinding.objects.create(session=session, lead=lead)
    return session


def add_message(session: Session, text: str, author_type: str = "client", **fields: Any) -> Message:
    return Message.objects.create(
        chat=session.chat, session=session, author_type=author_type, text=text, **fields
    )
