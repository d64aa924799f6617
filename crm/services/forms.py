"""Live chat contact form data saved to the CRM record (reference §1.6 `USE_WELCOME_FORM`)."""

from __future__ import annotations

from django.db import transaction

from crm.communications import email_normalize, phone_normalize
from crm.selectors import ClientDetails, client_details
from crm.services.recognition import binding_get_or_create, conversation_details_apply
from openlines.services import lifecycle


@transaction.atomic
def livechat_form_save(*, session_id: int, name: str = "", phone: str = "", email: str = "") -> str:
    """The live chat calls this with what the visitor typed in the form. The values are searched like
    the tracker's, saved on the bound record or create one per `crm_create` (the visitor can now be
    contacted back), and mark the conversation for the welcome-form responsible rule.

    Returns what happened ("found", "created", "updated" or ""). Invalid phones or e-mails are ignored
    here; the form itself reports them to the visitor.
    """
    session = lifecycle.session_lock(session_id)
    if not session.line.crm:
        return ""
    binding = binding_get_or_create(session)
    binding.form_filled = True
    binding.save(update_fields=["form_filled"])
    phone_value = phone_normalize(phone)
    email_value = email_normalize(email)
    given = ClientDetails(
        name=name.strip()[:255],
        phones=[phone_value] if phone_value else [],
        emails=[email_value] if email_value else [],
    )
    client = client_details(session.chat.client)
    details = ClientDetails(
        name=given.name or client.name,
        phones=[*given.phones, *[p for p in client.phones if p not in given.phones]],
        emails=[*given.emails, *[e for e in client.emails if e not in given.emails]],
        im=client.im,
        im_kind=client.im_kind,
        web=client.web,
        messenger=client.messenger,
    )
    return conversation_details_apply(session=session, binding=binding, details=details, search=given)
