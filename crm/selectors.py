"""Reads of the CRM: finding records by a client's details, what a conversation is bound to, the
conversations of a record, and an activity's message log."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from contactcenter.connectors.kinds import ConnectorKind
from contactcenter.selectors import available_user_ids
from crm.communications import email_normalize, im_identity, is_guest_name, phone_normalize
from crm.models import (
    Activity,
    Communication,
    Company,
    Contact,
    Deal,
    Lead,
    Record,
    Semantics,
    SessionCrmBinding,
)
from openlines.selectors import line_queue_user_ids
from openlines.session_models import Client, Message, Session

# Reference §6.7: the record a conversation is shown under first.
PRIMARY_ORDER = ("deal", "lead", "company", "contact")


@dataclass
class ClientDetails:
    """What a conversation tells about the client, normalised for searching and saving."""

    name: str = ""
    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    im: str = ""
    im_kind: str = ""
    web: str = ""
    messenger: bool = False

    @property
    def real_name(self) -> str:
        return "" if is_guest_name(self.name) else self.name.strip()

    def can_be_contacted(self) -> bool:
        """Someone can write back: a messenger chat, a phone or an e-mail (an anonymous live chat visitor
        without details cannot be reached once they leave the page)."""
        return self.messenger or bool(self.phones or self.emails)


def client_details(client: Client) -> ClientDetails:
    connector = client.connector
    phone = phone_normalize(client.phone)
    email = email_normalize(client.email)
    return ClientDetails(
        name=client.name,
        phones=[phone] if phone else [],
        emails=[email] if email else [],
        im=im_identity(kind=connector.kind, connector_id=connector.pk, external_id=client.external_id),
        im_kind=connector.kind,
        web=client.profile_url,
        messenger=connector.kind != ConnectorKind.LIVECHAT,
    )


@dataclass
class Match:
    """Records found for a client; `any()` tells whether something was found."""

    lead: Lead | None = None
    deal: Deal | None = None
    contact: Contact | None = None
    company: Company | None = None

    def any(self) -> bool:
        return any((self.lead, self.deal, self.contact, self.company))


def _open_lead(qs: QuerySet[Lead]) -> Lead | None:
    return (
        qs.filter(Q(status__isnull=True) | Q(status__semantics=Semantics.PROCESS)).order_by("-id").first()
        or qs.order_by("-id").first()
    )


def contact_open_deal(contact: Contact, *, pipeline_id: int | None = None) -> Deal | None:
    deals = Deal.objects.filter(contact=contact, stage__semantics=Semantics.PROCESS)
    if pipeline_id is not None:
        deals = deals.filter(pipeline_id=pipeline_id)
    return deals.order_by("-id").first()


def _match_communications(kind: str, values: list[str]) -> Match:
    if not values:
        return Match()
    comms = Communication.objects.filter(kind=kind, value__in=values)
    contact_id = (
        comms.filter(contact__isnull=False).order_by("-contact_id").values_list("contact_id", flat=True)
    )
    contact = Contact.objects.filter(pk__in=list(contact_id[:1])).select_related("company").first()
    if contact is not None:
        return Match(contact=contact, company=contact.company, deal=contact_open_deal(contact))
    company_id = (
        comms.filter(company__isnull=False).order_by("-company_id").values_list("company_id", flat=True)
    )
    company = Company.objects.filter(pk__in=list(company_id[:1])).first()
    if company is not None:
        return Match(company=company)
    lead = _open_lead(Lead.objects.filter(communications__in=comms))
    if lead is not None:
        return Match(lead=lead, contact=lead.contact, company=lead.company)
    return Match()


def records_find(details: ClientDetails) -> Match:
    """Reference §6.1: by messenger identity, e-mail, phone, then name (default guest names ignored).

    A name alone binds only when exactly one contact, or else exactly one open lead, carries it: a common
    name must not hand a stranger's conversation to someone else's record. And it never finds a record that
    carries a messenger identity: that record belongs to the person behind the identity, and a display name
    is no proof of being them (two Telegram users called "John Smith" are two people).
    """
    for kind, values in (
        (Communication.Kind.IM, [details.im] if details.im else []),
        (Communication.Kind.EMAIL, details.emails),
        (Communication.Kind.PHONE, details.phones),
    ):
        match = _match_communications(kind, values)
        if match.any():
            return match
    name = details.real_name
    if name:
        has_identity = Communication.objects.filter(kind=Communication.Kind.IM)
        contacts = list(
            Contact.objects.filter(name__iexact=name)
            .exclude(pk__in=has_identity.filter(contact__isnull=False).values("contact_id"))
            .select_related("company")[:2]
        )
        if len(contacts) == 1:
            contact = contacts[0]
            return Match(contact=contact, company=contact.company, deal=contact_open_deal(contact))
        if not contacts:
            leads = list(
                Lead.objects.filter(name__iexact=name)
                .filter(Q(status__isnull=True) | Q(status__semantics=Semantics.PROCESS))
                .exclude(pk__in=has_identity.filter(lead__isnull=False).values("lead_id"))
                .select_related("contact", "company")[:2]
            )
            if len(leads) == 1:
                return Match(lead=leads[0], contact=leads[0].contact, company=leads[0].company)
    return Match()


def binding_for(session: Session) -> SessionCrmBinding | None:
    return (
        SessionCrmBinding.objects.filter(session_id=session.pk)
        .select_related("lead", "deal", "contact", "company")
        .first()
    )


def binding_records(binding: SessionCrmBinding | None) -> list[Record]:
    """The bound records, primary first (deal > lead > company > contact)."""
    if binding is None:
        return []
    records: list[Record | None] = [getattr(binding, name) for name in PRIMARY_ORDER]
    return [r for r in records if r is not None]


def crm_responsible_for(session: Session) -> int | None:
    """For `crm_forward`: the responsible person of the record a recognised client belongs to."""
    binding = binding_for(session)
    if binding is None or not binding.recognized:
        return None
    for record in binding_records(binding):
        if record.responsible_id is not None:
            return int(record.responsible_id)
    return None


def client_email_for(session: Session) -> str | None:
    """For the transcript e-mail: an e-mail of the records the conversation is bound to, primary first."""
    for record in binding_records(binding_for(session)):
        kind = record._meta.model_name
        if kind not in ("contact", "company", "lead"):
            continue  # a deal keeps its e-mails on its contact (bound too)
        email = Communication.objects.filter(kind=Communication.Kind.EMAIL, **{kind: record.pk})
        value = email.order_by("id").values_list("value", flat=True).first()
        if value:
            return str(value)
    return None


def first_available_queue_member(session: Session) -> int | None:
    """Reference §6.4: responsible for new records while nobody holds the conversation."""
    queue = line_queue_user_ids(line=session.line)
    available = available_user_ids(user_ids=queue, check_available=session.line.check_available)
    for user_id in queue:
        if user_id in available:
            return user_id
    return queue[0] if queue else None


def crm_links_for_session(session: Session) -> list[dict[str, Any]]:
    """What the workspace shows in the client panel: bound records, primary first."""
    return [record_to_link(record) for record in binding_records(binding_for(session))]


def record_to_link(record: Record) -> dict[str, Any]:
    """`type`, `id`, `title`, `url` (the record's page) and `type_label` (translated type name)."""
    return {
        "type": record.entity_type,
        "id": record.pk,
        "title": str(record),
        "url": record.admin_url(),
        "type_label": str(record._meta.verbose_name),
    }


def record_conversations(record: Record) -> list[dict[str, Any]]:
    """The conversations bound to a record or started by it, newest first, with a link to each one's
    activity (its message log)."""
    field = record.entity_type
    sessions = (
        Session.objects.filter(Q(**{f"crm_binding__{field}": record}) | Q(pk=record.origin_session_id or 0))
        .select_related("line", "chat__client", "crm_activity")
        .order_by("-id")
        .distinct()
    )
    rows = []
    for session in sessions[:200]:
        activity: Activity | None = getattr(session, "crm_activity", None)
        rows.append(
            {
                "session_id": session.pk,
                "line": str(session.line),
                "channel": ConnectorKind(session.source).label
                if session.source in ConnectorKind.values
                else session.source,
                "client": str(session.chat.client),
                "created_at": session.created_at,
                "status": session.get_status_display(),
                "closed": session.closed,
                "url": reverse("admin:crm_activity_change", args=[activity.pk]) if activity else "",
            }
        )
    return rows


def activity_message_log(session: Session) -> list[dict[str, Any]]:
    """The conversation as the activity shows it: every message the client and staff saw, in order."""
    names: dict[int, str] = {}
    user_model = get_user_model()
    log = []
    for message in Message.objects.filter(session=session, internal=False).order_by("id"):
        if message.author_type == Message.Author.CLIENT:
            author = str(session.chat.client)
        elif message.author_id is not None:
            if message.author_id not in names:
                user = user_model.objects.filter(pk=message.author_id).first()
                names[message.author_id] = (user.get_full_name() or user.get_username()) if user else ""
            author = names[message.author_id]
        else:
            author = str(Message.Author(message.author_type).label)
        log.append(
            {
                "created_at": message.created_at,
                "author_type": message.author_type,
                "author": author,
                "text": message.text,
                "attachments": message.attachments,
            }
        )
    return log


def session_transcript(session: Session) -> str:
    """Plain-text transcript for a lead's comments."""
    lines = [
        f"[{row['created_at']:%Y-%m-%d %H:%M}] {row['author']}: {row['text']}"
        + (f" ({_('%(n)d attachments') % {'n': len(row['attachments'])}})" if row["attachments"] else "")
        for row in activity_message_log(session)
    ]
    return "\n".join(lines)
