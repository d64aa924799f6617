"""The chat tracker (reference §6.5): phones and e-mails a client writes are picked out, searched,
saved on the record, and the agent sees a notice in the chat."""

from __future__ import annotations

from dataclasses import replace

from crm.communications import contacts_in_text
from crm.selectors import ClientDetails, binding_records, client_details
from crm.services.recognition import binding_get_or_create, conversation_details_apply
from openlines.services import lifecycle
from openlines.session_models import Message, Session

NOTICE_KEYS = {"found": "crm_tracker_found", "created": "crm_tracker_created"}


def chat_tracker_run(*, session: Session, message: Message) -> str:
    """Handle one client message; returns what happened ("found", "created", "updated" or "")."""
    line = session.line
    if not (line.crm and line.crm_chat_tracker) or message.author_type != Message.Author.CLIENT:
        return ""
    found = contacts_in_text(message.text)
    if not found:
        return ""
    binding = binding_get_or_create(session)
    new_phones = [p for p in found.phones if p not in binding.tracked]
    new_emails = [e for e in found.emails if e not in binding.tracked]
    if not (new_phones or new_emails):
        return ""
    binding.tracked = [*binding.tracked, *new_phones, *new_emails]
    binding.save(update_fields=["tracked"])
    client = client_details(session.chat.client)
    details = replace(
        client,
        phones=[*client.phones, *[p for p in new_phones if p not in client.phones]],
        emails=[*client.emails, *[e for e in new_emails if e not in client.emails]],
    )
    outcome = conversation_details_apply(
        session=session,
        binding=binding,
        details=details,
        search=ClientDetails(phones=new_phones, emails=new_emails),
    )
    if outcome in NOTICE_KEYS:
        records = binding_records(binding)
        title = ", ".join(str(r) for r in records)
        lifecycle.system_message(session, NOTICE_KEYS[outcome], internal=True, title=title)
    return outcome
