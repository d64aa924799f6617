"""The agent's one-click "create lead" from the conversation (reference `imopenlines.crm.lead.create`)."""

from __future__ import annotations

from dataclasses import replace

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from crm.models import Lead
from crm.selectors import client_details, session_transcript
from crm.services.recognition import binding_get_or_create
from crm.services.records import lead_create
from openlines.services import lifecycle
from openlines.services.actions import ActionRefused, User, session_can_view


@transaction.atomic
def session_lead_create(*, user: User, session_id: int) -> Lead:
    """A lead with the client's name, contacts (including those the tracker picked up) and the
    transcript, bound to the conversation. Anyone who may see the conversation may do it."""
    session = lifecycle.session_lock(session_id)
    if not session_can_view(user, session):
        raise PermissionDenied(_("You cannot see this conversation."))
    binding = binding_get_or_create(session)
    if binding.lead_id is not None:
        raise ActionRefused(_("This conversation already has a lead."))
    details = client_details(session.chat.client)
    tracked_phones = [v for v in binding.tracked if v.startswith("+")]
    tracked_emails = [v for v in binding.tracked if "@" in v]
    details = replace(
        details,
        phones=[*details.phones, *[p for p in tracked_phones if p not in details.phones]],
        emails=[*details.emails, *[e for e in tracked_emails if e not in details.emails]],
    )
    responsible = session.operator_id or user.pk
    lead = lead_create(
        session=session,
        binding=binding,
        details=details,
        comments=session_transcript(session),
        responsible_id=int(responsible) if responsible is not None else None,
    )
    if binding.contact_id and lead.contact_id is None:
        lead.contact_id = binding.contact_id
        lead.save(update_fields=["contact"])
    lifecycle.system_message(
        session,
        "crm_lead_created",
        internal=True,
        user=lifecycle.user_display_name(int(user.pk)) if user.pk is not None else "",
        title=lead.title,
    )
    return lead
