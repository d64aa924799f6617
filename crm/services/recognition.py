"""Recognising the client of a new conversation (reference §6.1-§6.2), run from `session_created`
before routing so that `crm_forward` can send the conversation to the record's responsible person."""

from __future__ import annotations

from datetime import datetime

from crm.models import Record, SessionCrmBinding
from crm.selectors import ClientDetails, Match, binding_records, client_details, records_find
from crm.services.records import (
    deal_for_contact,
    details_fill_in,
    records_create_by_line_rule,
    records_mark_duplicate,
)
from openlines.models import OpenLine
from openlines.session_models import Session


def binding_get_or_create(session: Session) -> SessionCrmBinding:
    binding, _created = SessionCrmBinding.objects.select_related(
        "lead", "deal", "contact", "company"
    ).get_or_create(session_id=session.pk)
    return binding


def match_bind(*, session: Session, binding: SessionCrmBinding, match: Match) -> None:
    """Bind the conversation to found records; in `deal` mode a found contact also gets its deal."""
    binding.lead = match.lead or binding.lead
    binding.contact = match.contact or binding.contact
    binding.company = match.company or binding.company
    binding.recognized = True
    if session.line.crm_create == OpenLine.CrmCreate.DEAL and binding.contact and binding.deal is None:
        # The line's pipeline and "use an active deal" decide, not just any open deal of the contact.
        deal_for_contact(session=session, binding=binding, contact=binding.contact)
        return
    binding.deal = match.deal or binding.deal
    binding.save()


def session_recognize(*, session: Session) -> SessionCrmBinding | None:
    """Find the client's records and bind them, filling in missing details; else create per
    `crm_create`. Lines with `crm` off keep no binding."""
    if not session.line.crm:
        return None
    binding = binding_get_or_create(session)
    client = session.chat.client
    details = client_details(client)
    if _form_filled_for(session, client.extra.get("livechat_form_at")):
        # The live chat form filled in before this conversation started (`welcome_form_delay` off).
        binding.form_filled = True
        binding.save(update_fields=["form_filled"])
    conversation_details_apply(session=session, binding=binding, details=details)
    return binding


def _form_filled_for(session: Session, filled_at: object) -> bool:
    """Whether a contact form filled at `filled_at` (ISO) belongs to this new conversation: filled after
    the chat's previous conversation ended (forms filled during one were applied to that one)."""
    if not isinstance(filled_at, str):
        return False
    try:
        moment = datetime.fromisoformat(filled_at)
    except ValueError:
        return False
    previous = session.parent
    if previous is None:
        return True
    return previous.date_close is not None and moment >= previous.date_close


def conversation_details_apply(
    *,
    session: Session,
    binding: SessionCrmBinding,
    details: ClientDetails,
    search: ClientDetails | None = None,
) -> str:
    """Search with `search` (default: `details`) and bind, then save `details` on the bound records, or
    create records per `crm_create`. Returns what happened: "found", "created", "updated" (details added
    to the records already bound) or "" (nothing).

    A conversation bound only to records it created itself (say a lead made automatically for a new
    Telegram chat) moves to an older record the search finds: that is the same person writing from
    another channel, and both conversations then show on one record. The record made here is kept but
    marked as a duplicate, never deleted.
    """
    search = search or details
    bound = binding_records(binding)
    match = records_find(search)
    if bound:
        if not match.any() or _overlaps(match, binding) or not _all_created_by(bound, session):
            return "updated" if details_fill_in(binding=binding, details=details) else ""
        binding.lead = binding.deal = binding.contact = binding.company = None
        match_bind(session=session, binding=binding, match=match)
        details_fill_in(binding=binding, details=details)
        records_mark_duplicate(records=bound, of=binding_records(binding)[0])
        return "found"
    if match.any():
        match_bind(session=session, binding=binding, match=match)
        details_fill_in(binding=binding, details=details)
        return "found"
    if records_create_by_line_rule(session=session, binding=binding, details=details) is not None:
        return "created"
    return ""


def _overlaps(match: Match, binding: SessionCrmBinding) -> bool:
    for name in ("lead", "deal", "contact", "company"):
        found = getattr(match, name)
        if found is not None and getattr(binding, f"{name}_id") == found.pk:
            return True
    return False


def _all_created_by(records: list[Record], session: Session) -> bool:
    return all(record.origin_session_id == session.pk for record in records)
