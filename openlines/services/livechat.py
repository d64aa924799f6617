"""The live chat widget's side of the engine: its connector, visitor tokens, and what visitors do.

A visitor is identified by a random id inside a signed token (django.core.signing, its own salt) that
the widget keeps in localStorage; the token also names the line, so it cannot be replayed on another line.
Client messages go through `message_ingest` like any channel's, keyed by a uuid the widget generates per
message, so a message queued offline and sent twice is stored once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contactcenter.connectors.kinds import ConnectorKind
from contactcenter.models import Connector
from contactcenter.text import text_accept, text_clean
from openlines import signals
from openlines.models import OpenLine
from openlines.services import ratings
from openlines.services.actions import MAX_MESSAGE_LENGTH, typing_publish
from openlines.services.ingest import InboundClient, InboundMessage, IngestResult, message_ingest
from openlines.session_models import Chat, Client, Message, Session, TranscriptMail

TOKEN_SALT = "openlines.livechat.visitor"  # noqa: S105 (a signing salt, not a secret)
TOKEN_MAX_AGE = 365 * 24 * 3600
MAX_ATTACHMENTS = 5


@dataclass(frozen=True)
class Visitor:
    line_id: int
    visitor_id: str


class LivechatUnavailable(ValidationError):
    """The line takes no live chat visitors now: the line is off, or its live chat is disconnected or
    switched off. Nothing the visitor sends is stored; `text` is the widget's notice in the line's
    language."""

    def __init__(self, line: OpenLine) -> None:
        from openlines.widget_texts import widget_strings

        self.text = widget_strings(line.language_id)["unavailable"]
        super().__init__(self.text, code="unavailable")


def _livechat_connector(line: OpenLine) -> Connector | None:
    # Read afresh with the line: a socket's line object may predate the line being switched off.
    return (
        Connector.objects.select_related("line")
        .filter(line_id=line.pk, kind=ConnectorKind.LIVECHAT)
        .order_by("id")
        .first()
    )


def _refuse_unless_open(line: OpenLine, connector: Connector) -> Connector:
    if not connector.line.active or not connector.active or connector.disconnected_at is not None:
        raise LivechatUnavailable(line)
    return connector


def livechat_connector_for(line: OpenLine) -> Connector:
    """The line's live chat connector, created on first use (one per line, and never again once it is
    disconnected). Raises LivechatUnavailable when the line or its live chat takes no visitors."""
    connector = _livechat_connector(line)
    if connector is not None:
        return _refuse_unless_open(line, connector)
    with transaction.atomic():
        locked = OpenLine.objects.select_for_update().get(pk=line.pk)
        if not locked.active:
            raise LivechatUnavailable(line)
        connector = Connector.objects.filter(line=locked, kind=ConnectorKind.LIVECHAT).order_by("id").first()
        if connector is None:
            connector = Connector.objects.create(
                kind=ConnectorKind.LIVECHAT, line=locked, name=str(ConnectorKind.LIVECHAT.label)
            )
        connector.line = locked
    return _refuse_unless_open(line, connector)


def livechat_refusal(*, line: OpenLine) -> LivechatUnavailable | None:
    """Why the widget must not open on this line now, or None. Creates nothing when it refuses."""
    try:
        livechat_connector_for(line)
    except LivechatUnavailable as refusal:
        return refusal
    return None


def visitor_token_create(*, line: OpenLine) -> tuple[str, Visitor]:
    visitor = Visitor(line_id=line.pk, visitor_id=uuid.uuid4().hex)
    return signing.dumps({"l": line.pk, "v": visitor.visitor_id}, salt=TOKEN_SALT), visitor


def visitor_from_token(*, line: OpenLine, token: str) -> Visitor | None:
    """The visitor a token names, if it is genuine, not expired, and issued for this line."""
    if not token or len(token) > 500:
        return None
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("l") != line.pk or not isinstance(data.get("v"), str):
        return None
    return Visitor(line_id=line.pk, visitor_id=data["v"])


def visitor_client(*, line: OpenLine, visitor: Visitor, create: bool = False) -> Client | None:
    """The visitor's client; `create`: made if missing (refused with LivechatUnavailable when the line or
    its live chat takes no visitors)."""
    if create:
        connector = livechat_connector_for(line)
        client, _created = Client.objects.get_or_create(connector=connector, external_id=visitor.visitor_id)
        return client
    return (
        Client.objects.filter(
            connector__line=line, connector__kind=ConnectorKind.LIVECHAT, external_id=visitor.visitor_id
        )
        .order_by("connector_id")
        .first()
    )


def visitor_chat(*, line: OpenLine, visitor: Visitor) -> Chat | None:
    return (
        Chat.objects.filter(
            line=line,
            client__connector__kind=ConnectorKind.LIVECHAT,
            client__connector__line=line,
            client__external_id=visitor.visitor_id,
        )
        .order_by("id")
        .first()
    )


def _clean_attachments(attachments: Any) -> list[dict[str, Any]]:
    """Only files this server stored for the widget (see `livechat_file_store`) may be attached."""
    if not attachments:
        return []
    if not isinstance(attachments, list) or len(attachments) > MAX_ATTACHMENTS:
        raise ValidationError({"attachments": [_("Attach at most %(n)d files.") % {"n": MAX_ATTACHMENTS}]})
    clean = []
    for item in attachments:
        if not isinstance(item, dict) or not isinstance(item.get("token"), str):
            raise ValidationError({"attachments": [_("Unknown attachment.")]})
        try:
            data = signing.loads(item["token"], salt=FILE_SALT)
        except signing.BadSignature:
            raise ValidationError({"attachments": [_("Unknown attachment.")]}) from None
        clean.append(data)
    return clean


def livechat_message_receive(
    *,
    line: OpenLine,
    visitor: Visitor,
    client_message_id: str,
    text: str,
    attachments: Any = None,
    page_url: str = "",
    connector: Connector | None = None,
) -> IngestResult:
    """A visitor's message: stored once per `client_message_id`, whatever the number of resends.

    `connector`: the line's live chat connector when the caller holds it already (a widget socket keeps it);
    whether it still takes visitors is read afresh. Raises LivechatUnavailable when it does not.
    """
    text = text_accept(text).strip() if isinstance(text, str) else ""
    files = _clean_attachments(attachments)
    if not text and not files:
        raise ValidationError({"text": [_("Write a message or attach a file.")]})
    if len(text) > MAX_MESSAGE_LENGTH:
        raise ValidationError(
            {"text": [_("A message can be at most %(n)d characters.") % {"n": MAX_MESSAGE_LENGTH}]}
        )
    if not isinstance(client_message_id, str) or not 8 <= len(client_message_id) <= 64:
        raise ValidationError({"client_id": [_("Each message needs its own id (8 to 64 characters).")]})
    page_url = page_url if isinstance(page_url, str) and page_url.startswith(("http://", "https://")) else ""
    if connector is not None:
        current = _livechat_connector(line)
        if current is None or current.pk != connector.pk:
            raise LivechatUnavailable(line)
        connector = _refuse_unless_open(line, current)
    if line.agreement_message and line.agreement_id:
        # The widget asks for consent before the first message (reference §1.5): without it nothing is
        # stored and the conversation never reaches an agent.
        client = visitor_client(line=line, visitor=visitor)
        if client is None or client.consent_at is None:
            raise ValidationError({"consent": [_("Please accept the agreement before writing.")]})
    result = message_ingest(
        connector=connector or livechat_connector_for(line),
        client=InboundClient(external_id=visitor.visitor_id),
        message=InboundMessage(
            # Namespaced by visitor: two visitors cannot collide (or probe each other) with the same id.
            external_id=f"{visitor.visitor_id}:{client_message_id}",
            text=text,
            attachments=files,
            source_url=page_url[:2000],
        ),
    )
    if files:
        from openlines.attachments import anonymous_uploads_attach

        anonymous_uploads_attach(paths=_upload_paths(files), message_id=result.message.pk)
    return result


@transaction.atomic
def livechat_consent_give(*, line: OpenLine, visitor: Visitor) -> Client:
    from openlines.services.agreements import client_consent_record

    client = visitor_client(line=line, visitor=visitor, create=True)
    assert client is not None
    return client_consent_record(client=client, line=line)


@transaction.atomic
def livechat_contact_save(*, line: OpenLine, visitor: Visitor, name: str, email: str, phone: str) -> Client:
    """The widget's CRM form: name, e-mail, phone saved on the client (the CRM reads them from there)."""
    name, email, phone = (
        text_accept(str(v or ""), field=field).strip()
        for v, field in ((name, "name"), (email, "email"), (phone, "phone"))
    )
    errors: dict[str, list[str]] = {}
    if len(name) > 255:
        errors["name"] = [_("The name can be at most 255 characters.")]
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = [_("Enter a valid e-mail address.")]
    if phone and (len(phone) > 64 or not any(ch.isdigit() for ch in phone)):
        errors["phone"] = [_("Enter a valid phone number.")]
    if not (name or email or phone):
        errors["__all__"] = [_("Fill in at least one field.")]
    if errors:
        raise ValidationError(errors)
    client = visitor_client(line=line, visitor=visitor, create=True)
    assert client is not None
    changed = []
    for field, value in (("name", name), ("email", email), ("phone", phone)):
        if value:
            setattr(client, field, value)
            changed.append(field)
    client.extra = {**client.extra, "livechat_form_at": timezone.now().isoformat()}
    client.save(update_fields=[*changed, "extra"])
    open_session = (
        Session.objects.select_related("line")
        .filter(chat__client=client, chat__line=line, closed=False)
        .order_by("-id")
        .first()
    )
    if open_session is not None:
        # Filled during the conversation (by default the form shows after the first message): the CRM
        # updates or creates its records now (before the first message, recognition reads the client).
        signals.contact_form_filled.send(
            sender=Session, session=open_session, name=name, phone=phone, email=email
        )
    return client


@transaction.atomic
def livechat_transcript_request(*, line: OpenLine, visitor: Visitor) -> TranscriptMail:
    """The visitor asks for their latest conversation by e-mail (reference §1.10 "Save message log")."""
    from openlines.services.transcripts import transcript_request

    chat = visitor_chat(line=line, visitor=visitor)
    session = (
        Session.objects.select_related("line", "chat__client").filter(chat=chat).order_by("-id").first()
        if chat is not None
        else None
    )
    if session is None:
        raise ValidationError({"__all__": [_("There is no conversation to send yet.")]})
    return transcript_request(session=session)


@transaction.atomic
def livechat_rate(*, line: OpenLine, visitor: Visitor, vote: str) -> Session:
    """Like / dislike from the widget for the conversation that asked for it (or may be rated)."""
    votes = {"like": ratings.LIKE, "dislike": ratings.DISLIKE}
    livechat_connector_for(line)  # refuses when the line takes no visitors now
    if vote not in votes:
        raise ValidationError({"vote": [_("A rating is like or dislike.")]})
    chat = visitor_chat(line=line, visitor=visitor)
    target = None
    if chat is not None:
        target = ratings.session_awaiting_rating(chat)
        if target is None:
            open_session = Session.objects.filter(chat=chat, closed=False).first()
            if open_session is not None and line.vote_before_finish:
                from openlines.services.lifecycle import session_lock

                target = session_lock(open_session.pk)
    if target is None:
        raise ValidationError({"vote": [_("There is no conversation to rate.")]})
    ratings.session_rate(session=target, vote=votes[vote])
    return target


def livechat_typing(*, line: OpenLine, visitor: Visitor, preview: str) -> None:
    chat = visitor_chat(line=line, visitor=visitor)
    if chat is None:
        return
    session = Session.objects.select_related("line").filter(chat=chat, closed=False).first()
    if session is not None:
        preview = text_clean(preview) if isinstance(preview, str) else ""
        typing_publish(session=session, by_client=True, text_preview=preview)


# --- Files ------------------------------------------------------------------------------------------

FILE_SALT = "openlines.livechat.file"
MAX_FILE_BYTES = 10 * 1024 * 1024
INLINE_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


STORED_NAME_MAX_BYTES = 100


def _stored_name(original: str) -> str:
    """A safe file name for storage, at most STORED_NAME_MAX_BYTES in UTF-8 with its extension kept (file
    systems refuse names over 255 bytes; the visitor's name is shown from the token, not from here)."""
    from django.core.exceptions import SuspiciousFileOperation
    from django.utils.text import get_valid_filename

    try:
        safe = get_valid_filename(original)
    except SuspiciousFileOperation:
        return "file"
    stem, dot, extension = safe.rpartition(".")
    if not dot or len(extension.encode()) > 16:
        stem, dot, extension = safe, "", ""
    room = STORED_NAME_MAX_BYTES - len(f"{dot}{extension}".encode())
    stem = stem.encode()[:room].decode(errors="ignore") or "file"
    return f"{stem}{dot}{extension}"


def livechat_file_store(
    *, line: OpenLine, visitor: Visitor, upload: Any, address: str = ""
) -> dict[str, Any]:
    """Store an uploaded file within the anonymous-upload limits (openlines.attachments); returns its
    description and a signed token the message refers to it by."""
    from django.core.files.storage import default_storage
    from django.urls import reverse

    from openlines.attachments import anonymous_upload_check
    from openlines.session_models import LivechatUpload

    if upload.size > MAX_FILE_BYTES:
        raise ValidationError({"file": [_("The file is too large (at most 10 MB).")]})
    anonymous_upload_check(line_id=line.pk, address=address, upload=upload)
    original = text_clean(upload.name or "")[-100:] or "file"
    path = default_storage.save(f"livechat/{line.pk}/{uuid.uuid4().hex}/{_stored_name(original)}", upload)
    LivechatUpload.objects.create(
        line=line, path=path, size=int(upload.size), address=address, created_at=timezone.now()
    )
    content_type = str(getattr(upload, "content_type", "") or "application/octet-stream")[:100]
    data = {
        "name": original,
        "size": int(upload.size),
        "content_type": content_type,
        "url": reverse("livechat:file", kwargs={"path": path}),
        "image": content_type in INLINE_IMAGE_TYPES,
    }
    return {**data, "token": signing.dumps(data, salt=FILE_SALT)}


def _upload_paths(files: list[dict[str, Any]]) -> list[str]:
    from django.urls import reverse

    prefix = reverse("livechat:file", kwargs={"path": "x"})[:-1]
    return [str(f["url"])[len(prefix) :] for f in files if str(f.get("url", "")).startswith(prefix)]


# --- What the widget shows ------------------------------------------------------------------------------


def client_message_shape(message: dict[str, Any], *, line: OpenLine, visitor_id: str) -> dict[str, Any]:
    """A message payload as the visitor may see it: the agent per `operator_data`, no staff ids."""
    from openlines.selectors import agent_identity_for_client

    author = None
    if message.get("author_type") == Message.Author.AGENT:
        author = agent_identity_for_client(line=line, user_id=message.get("author_id"))
    external = message.get("external_id")
    if external is None and message.get("author_type") == Message.Author.CLIENT:
        # Live events carry no channel id; the widget needs it to match its own pending copy.
        external = Message.objects.filter(pk=message["id"]).values_list("external_id", flat=True).first()
    external = external or ""
    prefix = f"{visitor_id}:"
    return {
        "id": message["id"],
        "author_type": message["author_type"],
        "author": author,
        "text": message["text"],
        "attachments": message.get("attachments") or [],
        "created_at": message["created_at"],
        "client_id": external[len(prefix) :] if external.startswith(prefix) else "",
    }


def client_event_shape(event: dict[str, Any], *, line: OpenLine, visitor_id: str) -> dict[str, Any] | None:
    """An engine event for the widget; None for what the visitor must not see."""
    kind = event.get("type")
    base = {"id": event.get("id"), "type": kind}
    if kind == "message.new":
        message = event.get("message") or {}
        if message.get("internal"):
            return None
        return {**base, "message": client_message_shape(message, line=line, visitor_id=visitor_id)}
    if kind == "typing":
        from openlines.selectors import agent_identity_for_client

        identity = agent_identity_for_client(line=line, user_id=event.get("user_id"))
        return {**base, "by": "agent", "name": identity["name"] if identity else ""}
    if kind == "queue.position":
        return {**base, "position": event.get("position")}
    if kind in ("rating.requested", "session.closed"):
        return base
    if kind == "rating.received":
        return {**base, "vote": "like" if event.get("vote") == ratings.LIKE else "dislike"}
    return None


def livechat_state(*, line: OpenLine, visitor: Visitor, history_limit: int = 100) -> dict[str, Any]:
    """The visitor's conversation for the widget after a (re)load: history, agent, phase, and where its
    event stream resumes (`last_event_id`, `recent_event_ids`: `selectors.client_resume_point`)."""
    from openlines.selectors import agent_identity_for_client, client_resume_point
    from openlines.services.lifecycle import message_payload

    chat = visitor_chat(line=line, visitor=visitor)
    # Read before the rest: what the state below shows is at least what these event ids brought.
    resume = client_resume_point(chat_id=chat.pk if chat is not None else None)
    client = visitor_client(line=line, visitor=visitor)
    state: dict[str, Any] = {
        "history": [],
        "agent": agent_identity_for_client(line=line, user_id=None),
        "open": False,
        "wait_vote": False,
        "vote": None,
        **resume,
        "consent_given": bool(client and client.consent_at),
        "form_filled": bool(client and client.extra.get("livechat_form_at")),
        "has_written": False,
    }
    if chat is None:
        return state
    rows = list(
        Message.objects.filter(chat=chat, internal=False)
        .select_related("author")
        .order_by("-id")[:history_limit]
    )
    rows.reverse()
    state["history"] = [
        client_message_shape(
            {**message_payload(m), "external_id": m.external_id}, line=line, visitor_id=visitor.visitor_id
        )
        for m in rows
    ]
    state["has_written"] = any(m.author_type == Message.Author.CLIENT for m in rows)
    last = Session.objects.filter(chat=chat).order_by("-id").first()
    if last is not None:
        state["open"] = not last.closed
        state["wait_vote"] = bool(last.wait_vote and line.vote_message)
        state["vote"] = {ratings.LIKE: "like", ratings.DISLIKE: "dislike"}.get(last.vote)
        agent = agent_identity_for_client(line=line, user_id=last.operator_id)
        if agent is not None:
            state["agent"] = agent
    return state


def livechat_config(*, line: OpenLine) -> dict[str, Any]:
    """What the widget needs to draw itself, in the line's language."""
    from openlines.widget_texts import widget_strings

    agreement = line.agreement if line.agreement_message else None
    return {
        "line": line.code,
        "title": line.line_name,
        "language": line.language_id,
        "strings": widget_strings(line.language_id),
        "welcome": line.client_text("welcome") if line.welcome_message else "",
        "consent": ({"title": agreement.title, "text": agreement.text} if agreement is not None else None),
        "form": ({"after_first_message": line.welcome_form_delay} if line.use_welcome_form else None),
        "vote": (
            {
                "prompt": line.client_text("vote_message_1_text"),
                "like": line.client_text("vote_message_1_like"),
                "dislike": line.client_text("vote_message_1_dislike"),
            }
            if line.vote_message
            else None
        ),
    }
