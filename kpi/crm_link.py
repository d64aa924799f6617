"""How the chat list learns whether a conversation is bound to CRM records (the "CRM" filter and column):
through the CRM app's `SessionCrmBinding` (one row per session); the column shows the primary record
(deal > lead > company > contact, reference §6.7)."""

from __future__ import annotations

from django.db.models import Q

from openlines.session_models import Session

PRIMARY_ORDER = ("deal", "lead", "company", "contact")


def crm_bound_q() -> Q:
    bound = Q()
    for name in PRIMARY_ORDER:
        bound |= Q(**{f"crm_binding__{name}__isnull": False})
    return bound


def crm_text(session: Session) -> str:
    binding = getattr(session, "crm_binding", None)
    for name in PRIMARY_ORDER:
        record = getattr(binding, name, None) if binding is not None else None
        if record is not None:
            return str(record)
    return ""
