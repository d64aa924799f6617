"""Creating CRM records from a conversation and keeping their details and responsible person current.

Used by recognition (session start), the chat tracker, the live chat form and the agent's "create
lead" action, so a record created any of these ways looks the same.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _

from contactcenter.connectors.kinds import ConnectorKind
from contactcenter.numbers import id_from_text, is_decimal
from crm.models import (
    Communication,
    Company,
    Contact,
    Deal,
    Lead,
    LeadStatus,
    Pipeline,
    Record,
    Semantics,
    SessionCrmBinding,
    Source,
    Stage,
)
from crm.selectors import ClientDetails, contact_open_deal, first_available_queue_member
from openlines.models import OpenLine
from openlines.session_models import Session

SOURCE_CREATE = "create"


# --- Reference data created on first use ---------------------------------------------------------------


def lead_status_initial() -> LeadStatus:
    status = LeadStatus.objects.filter(semantics=Semantics.PROCESS).order_by("sort", "id").first()
    if status is None:
        status, _created = LeadStatus.objects.get_or_create(
            code="NEW", defaults={"name": _("New"), "sort": 10}
        )
    return status


def pipeline_default() -> Pipeline:
    pipeline = (
        Pipeline.objects.filter(is_default=True).first() or Pipeline.objects.order_by("sort", "id").first()
    )
    if pipeline is None:
        pipeline = Pipeline.objects.create(name=_("Sales"), is_default=True, sort=10)
    return pipeline


def pipeline_for_line(line: OpenLine) -> Pipeline:
    """`crm_create_second`: a pipeline id; empty, "0" or an unknown id mean the default pipeline."""
    value = (line.crm_create_second or "").strip()
    if is_decimal(value) and value != "0":
        pipeline = Pipeline.objects.filter(pk=int(value)).first()
        if pipeline is not None:
            return pipeline
    return pipeline_default()


def stage_initial(pipeline: Pipeline) -> Stage:
    stage = pipeline.stages.filter(semantics=Semantics.PROCESS).order_by("sort", "id").first()
    if stage is None:
        stage = Stage.objects.create(pipeline=pipeline, name=_("New"), sort=10)
    return stage


def source_for_session(session: Session) -> Source | None:
    """Reference §6.3: "create" gives the line's automatic source for the channel ("<line id>|<kind>");
    anything else names a source by code (or id). An unknown source falls back to the automatic one, so
    records never lose where they came from because a source was deleted."""
    line = session.line
    value = (line.crm_source or SOURCE_CREATE).strip()
    if value != SOURCE_CREATE:
        source = Source.objects.filter(Q(code=value) | Q(pk=id_from_text(value) or 0)).first()
        if source is not None:
            return source
    kind = session.source
    label = ConnectorKind(kind).label if kind in ConnectorKind.values else kind
    source, _created = Source.objects.get_or_create(
        code=f"{line.pk}|{kind}",
        defaults={"name": f"{line.line_name or line.pk} - {label}", "line": line, "channel": kind},
    )
    return source


# --- Communications -----------------------------------------------------------------------------------


def _owner_field(record: Record) -> str:
    if isinstance(record, (Contact, Company, Lead)):
        return record.entity_type
    raise TypeError(f"{type(record).__name__} has no communications")


def communications_add(*, record: Record, details: ClientDetails) -> list[Communication]:
    """Add the phones, e-mails, messenger identity and web site the record does not have yet."""
    owner = _owner_field(record)
    wanted: list[tuple[str, str, str]] = [
        *[(Communication.Kind.PHONE, phone, "") for phone in details.phones],
        *[(Communication.Kind.EMAIL, email, "") for email in details.emails],
    ]
    if details.im:
        wanted.append((Communication.Kind.IM, details.im, details.im_kind))
    if details.web:
        wanted.append((Communication.Kind.WEB, details.web, ""))
    existing = set(Communication.objects.filter(**{owner: record}).values_list("kind", "value"))
    added = []
    for kind, value, value_type in wanted:
        if (kind, value) in existing:
            continue
        existing.add((kind, value))
        added.append(
            Communication.objects.create(kind=kind, value=value, value_type=value_type, **{owner: record})
        )
    return added


def communications_holder(binding: SessionCrmBinding) -> Record | None:
    """Where a conversation's new details go: the contact, else the lead, else the company."""
    return binding.contact or binding.lead or binding.company


def details_fill_in(*, binding: SessionCrmBinding, details: ClientDetails) -> list[Communication]:
    """Reference §6.1: found records get the phones, e-mails, messenger identity and site they miss;
    a nameless contact or lead also gets the client's name."""
    holder = communications_holder(binding)
    if holder is None:
        return []
    name = details.real_name
    if name and isinstance(holder, (Contact, Lead)) and not holder.name:
        holder.name = name
        holder.save(update_fields=["name", "modified_at"])
    return communications_add(record=holder, details=details)


# --- Creation ------------------------------------------------------------------------------------------


def _responsible(session: Session, binding: SessionCrmBinding) -> int | None:
    """The conversation's agent, else the first available queue member for now (reference §6.4)."""
    if session.operator_id is not None:
        return int(session.operator_id)
    binding.responsible_pending = True
    return first_available_queue_member(session)


def _display_name(details: ClientDetails) -> str:
    return (
        details.real_name
        or (details.phones[0] if details.phones else "")
        or (details.emails[0] if details.emails else "")
    )


def lead_create(
    *,
    session: Session,
    binding: SessionCrmBinding,
    details: ClientDetails,
    comments: str = "",
    responsible_id: int | None = None,
) -> Lead:
    """Reference §6.2 `lead`: "<client> - <line>", the client's name and contacts, the source."""
    name = _display_name(details) or str(session.chat.client)
    lead = Lead.objects.create(
        title=f"{name} - {session.line}"[:255],
        name=details.real_name,
        status=lead_status_initial(),
        source=source_for_session(session),
        responsible_id=responsible_id if responsible_id is not None else _responsible(session, binding),
        comments=comments,
        origin_session=session,
    )
    communications_add(record=lead, details=details)
    binding.lead = lead
    binding.save()
    return lead


def contact_create(*, session: Session, binding: SessionCrmBinding, details: ClientDetails) -> Contact:
    contact = Contact.objects.create(
        name=details.real_name or _display_name(details),
        source=source_for_session(session),
        responsible_id=_responsible(session, binding),
        origin_session=session,
    )
    communications_add(record=contact, details=details)
    binding.contact = contact
    binding.save()
    return contact


def deal_for_contact(*, session: Session, binding: SessionCrmBinding, contact: Contact) -> Deal:
    """Reference §6.2 `deal`: the contact's open deal in the line's pipeline, unless the line creates a
    new deal every time (`crm_create_third` off)."""
    line = session.line
    pipeline = pipeline_for_line(line)
    deal = contact_open_deal(contact, pipeline_id=pipeline.pk) if line.crm_create_third else None
    if deal is None:
        deal = Deal.objects.create(
            title=f"{contact} - {line}"[:255],
            pipeline=pipeline,
            stage=stage_initial(pipeline),
            contact=contact,
            company=contact.company,
            source=source_for_session(session),
            responsible_id=_responsible(session, binding),
            origin_session=session,
        )
    binding.deal = deal
    binding.save()
    return deal


def records_create_by_line_rule(
    *, session: Session, binding: SessionCrmBinding, details: ClientDetails
) -> Record | None:
    """`crm_create` for a client not found (reference §6.2): nothing, a lead, or a contact with a deal.

    Either needs a client who can be contacted back; an anonymous live chat visitor without details gets
    no record until they give a phone or an e-mail (then the tracker or the form creates it).
    """
    line = session.line
    if line.crm_create == OpenLine.CrmCreate.NONE or not details.can_be_contacted():
        return None
    if line.crm_create == OpenLine.CrmCreate.DEAL:
        contact = binding.contact or contact_create(session=session, binding=binding, details=details)
        return deal_for_contact(session=session, binding=binding, contact=contact)
    return lead_create(session=session, binding=binding, details=details)


def records_mark_duplicate(*, records: list[Record], of: Record) -> None:
    """Records a conversation created before the client turned out to be known: a note, and leads go
    to the failed "Duplicate" status."""
    note = _("Duplicate of %(type)s #%(id)s (%(title)s).") % {
        "type": of._meta.verbose_name,
        "id": of.pk,
        "title": of,
    }
    for record in records:
        record.comments = f"{record.comments}\n{note}".strip()
        fields = ["comments", "modified_at"]
        if isinstance(record, Lead):
            record.status = lead_status_duplicate()
            fields.append("status")
        record.save(update_fields=fields)


def lead_status_duplicate() -> LeadStatus:
    status, _created = LeadStatus.objects.get_or_create(
        code="DUPLICATE", defaults={"name": _("Duplicate"), "sort": 900, "semantics": Semantics.FAILURE}
    )
    return status


# --- Responsible ---------------------------------------------------------------------------------------


def created_records_reassign(*, session: Session, user_id: int) -> int:
    """Records this conversation created get `user_id` as responsible; records found are left alone."""
    changed = 0
    for model in (Lead, Deal, Contact, Company):
        changed += model.objects.filter(origin_session=session).update(responsible_id=user_id)
    return changed
