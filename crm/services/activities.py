"""The open-line activity of each conversation (reference §6.6) and the responsible-person rules that
follow the conversation's agent (reference §6.4, `crm_transfer_change`, the welcome-form rule)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from crm.models import Activity, Contact, Lead, SessionCrmBinding
from crm.services.records import created_records_reassign
from openlines.session_models import Session


def activity_create(*, session: Session) -> Activity | None:
    if not session.line.crm:
        return None
    activity, _created = Activity.objects.get_or_create(
        session_id=session.pk,
        defaults={
            "subject": f"{session.line} #{session.pk}: {session.chat.client}"[:255],
            "responsible_id": session.operator_id,
            "created_at": session.created_at,
        },
    )
    return activity


def activity_answer(*, session: Session, user_id: int | None, at: datetime | None = None) -> bool:
    """The first agent reply marks the activity answered; returns whether this was that reply."""
    changed = Activity.objects.filter(session_id=session.pk, answered_at__isnull=True).update(
        answered_at=at or timezone.now()
    )
    if changed and user_id is not None:
        welcome_form_responsible_apply(session=session, user_id=user_id)
    return bool(changed)


def activity_complete(*, session: Session, at: datetime | None = None) -> None:
    Activity.objects.filter(session_id=session.pk, completed_at__isnull=True).update(
        completed_at=session.date_close or at or timezone.now()
    )


def welcome_form_responsible_apply(*, session: Session, user_id: int) -> None:
    """`ignore_welcome_form_responsible`: the contact or lead the live chat form bound to this
    conversation gets the agent who answers first as responsible, instead of whoever the form set."""
    if not session.line.ignore_welcome_form_responsible:
        return
    binding = SessionCrmBinding.objects.filter(session_id=session.pk, form_filled=True).first()
    if binding is None:
        return
    if binding.contact_id:
        Contact.objects.filter(pk=binding.contact_id).update(responsible_id=user_id)
    if binding.lead_id:
        Lead.objects.filter(pk=binding.lead_id).update(responsible_id=user_id)


def operator_changed_apply(*, session: Session, operator_id: int | None, manual: bool) -> None:
    """The activity follows the conversation's agent. Records this conversation created follow it too
    on its first assignment (they were created before anybody held it) and, with
    `crm_transfer_change`, on a manual transfer; records that were found stay with their owner."""
    if operator_id is None:
        return
    Activity.objects.filter(session_id=session.pk).update(responsible_id=operator_id)
    binding = SessionCrmBinding.objects.filter(session_id=session.pk).first()
    if binding is None:
        return
    if binding.responsible_pending or (manual and session.line.crm_transfer_change):
        created_records_reassign(session=session, user_id=operator_id)
    if binding.responsible_pending:
        binding.responsible_pending = False
        binding.save(update_fields=["responsible_pending"])
