"""The conversation's transcript e-mailed to the client (reference §1.10 "Save message log" and "Language
preferences", §2.3 "Full close"): after the close and on the client's request from the widget, in the
line's language, from the line's sender, as plain text and HTML (everything typed is escaped).

Only when the client's e-mail is known: the live chat contact form, the channel's user data (the REST
connector's `user.email`) or the CRM records the conversation is bound to (a resolver the CRM registers).

Sending is a background task (`openlines.tasks.transcript_mail_send`); a failed attempt is logged, kept
on its `TranscriptMail` row with the error, and tried again by the timer loop after a growing wait
(1, 2, 4, 8 minutes), at most `MAX_ATTEMPTS` times; the row then stays `failed`, visible in the admin.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import datetime, timedelta
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from contactcenter.background import task_enqueue, task_enqueue_fast
from contactcenter.timers import register_timer
from openlines.session_models import Message, Session, TranscriptMail

logger = logging.getLogger(__name__)

SEND_TASK = "openlines.tasks.transcript_mail_send"
MAX_ATTEMPTS = 5
FIRST_RETRY = timedelta(minutes=1)
# A claimed attempt that never reported back (its worker died) is due again after this.
CLAIM_LEASE = timedelta(minutes=5)

ClientEmailResolver = Callable[[Session], "str | None"]
_email_resolvers: list[ClientEmailResolver] = []


def register_client_email_resolver(fn: ClientEmailResolver) -> ClientEmailResolver:
    """The CRM plugs in "the e-mail of the records this conversation is bound to"."""
    _email_resolvers.append(fn)
    return fn


def client_email(session: Session) -> str:
    """The client's e-mail if known: from the channel or the contact form, else from the CRM."""
    candidates = [session.chat.client.email, *(resolver(session) for resolver in _email_resolvers)]
    for value in candidates:
        if not value:
            continue
        try:
            validate_email(value)
        except ValidationError:
            continue
        return str(value)
    return ""


_muted: ContextVar[bool] = ContextVar("transcript_mails_muted", default=False)


@contextlib.contextmanager
def transcript_mails_muted() -> Iterator[None]:
    """Conversations closed inside this block mail no transcript: replaying past conversations (the demo's
    history) must not write to their clients."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def transcript_mail_queue(*, session: Session, reason: str) -> TranscriptMail | None:
    """Queue the transcript for the client (None when their e-mail is unknown). Once per close."""
    to = client_email(session)
    if not to or _muted.get():
        return None
    if (
        reason == TranscriptMail.Reason.CLOSED
        and TranscriptMail.objects.filter(session=session, reason=reason).exists()
    ):
        return None  # closed again after a rating reopened it: sent already
    mail = TranscriptMail.objects.create(
        session=session, to=to, reason=reason, next_attempt_at=timezone.now() + CLAIM_LEASE
    )
    # A lost push is picked up by `transcript_mails_retry` once the row's lease has passed.
    task_enqueue_fast(SEND_TASK, mail.pk)
    return mail


def transcript_request(*, session: Session) -> TranscriptMail:
    """The client asks for the transcript (the widget's button)."""
    mail = transcript_mail_queue(session=session, reason=TranscriptMail.Reason.REQUESTED)
    if mail is None:
        raise ValidationError({"email": [_("Tell us your e-mail address first (the contact form).")]})
    return mail


def _sender(session: Session) -> str:
    line = session.line
    name, default_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((line.line_name or name, line.mail_from or default_address))


def transcript_mail_build(mail: TranscriptMail) -> EmailMultiAlternatives:
    session = mail.session
    line = session.line
    rows = list(
        Message.objects.filter(chat_id=session.chat_id, session=session, internal=False)
        .select_related("author", "author__profile")
        .order_by("id")
    )
    from openlines.selectors import agent_identity_for_client

    names: dict[int | None, str] = {}
    lines = []
    with translation.override(line.language_id):
        for message in rows:
            if message.author_type == Message.Author.CLIENT:
                who = _("You")
            elif message.author_type == Message.Author.AGENT:
                if message.author_id not in names:
                    identity = agent_identity_for_client(line=line, user_id=message.author_id)
                    names[message.author_id] = identity["name"] if identity else _("Agent")
                who = names[message.author_id]
            else:
                who = line.line_name
            files = [str(f.get("name", "")) for f in message.attachments or [] if isinstance(f, dict)]
            lines.append(
                {
                    "who": who,
                    "at": timezone.localtime(message.created_at),
                    "text": message.text,
                    "files": files,
                }
            )
        context = {"line": line, "session": session, "lines": lines}
        subject = _("Your conversation with %(line)s") % {"line": line.line_name}
        text = render_to_string("openlines/transcript_email.txt", context)
        html = render_to_string("openlines/transcript_email.html", context)
    email = EmailMultiAlternatives(subject=subject, body=text, from_email=_sender(session), to=[mail.to])
    email.attach_alternative(html, "text/html")
    return email


def transcript_mail_send(mail_id: int) -> bool:
    """One attempt (the background task). Returns whether the mail went out."""
    with transaction.atomic():
        mail = (
            TranscriptMail.objects.select_for_update()
            .select_related("session__line", "session__chat__client")
            .filter(pk=mail_id, status=TranscriptMail.Status.PENDING)
            .first()
        )
        if mail is None:
            return False  # sent already, or given up
        mail.attempts += 1
        mail.next_attempt_at = timezone.now() + CLAIM_LEASE
        mail.save(update_fields=["attempts", "next_attempt_at"])
    try:
        transcript_mail_build(mail).send()
    except Exception as error:
        logger.exception("transcript e-mail %s to %s failed (attempt %s)", mail.pk, mail.to, mail.attempts)
        last = mail.attempts >= MAX_ATTEMPTS
        TranscriptMail.objects.filter(pk=mail.pk).update(
            status=TranscriptMail.Status.FAILED if last else TranscriptMail.Status.PENDING,
            last_error=repr(error)[:2000],
            next_attempt_at=None if last else timezone.now() + FIRST_RETRY * 2 ** (mail.attempts - 1),
        )
        return False
    TranscriptMail.objects.filter(pk=mail.pk).update(
        status=TranscriptMail.Status.SENT, sent_at=timezone.now(), next_attempt_at=None, last_error=""
    )
    return True


@register_timer("transcript_mails")
def transcript_mails_retry(now: datetime) -> int:
    """Queue another attempt for mails whose wait is over (or whose attempt was lost with its worker)."""
    due = list(
        TranscriptMail.objects.filter(
            status=TranscriptMail.Status.PENDING, next_attempt_at__lte=now
        ).values_list("pk", flat=True)[:200]
    )
    for mail_id in due:
        claimed = TranscriptMail.objects.filter(
            pk=mail_id, status=TranscriptMail.Status.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=now + CLAIM_LEASE)
        if claimed:
            with transaction.atomic():
                task_enqueue(SEND_TASK, mail_id)
    return len(due)
