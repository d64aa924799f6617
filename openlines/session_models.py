"""Conversations: clients, chats, sessions, messages, deadlines, offers, transfers, realtime events.

Imported by `openlines.models`; the state machine that changes these rows is `openlines.services.lifecycle`.
"""

from __future__ import annotations

import copy
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SessionStatus(models.IntegerChoices):
    """Reference §2.2; the numbers are kept so that exports and filters map one to one."""

    NEW = 0, _("New, not taken yet")
    SKIP = 5, _("Returned to the queue")
    ANSWER = 10, _("Accepted by an agent")
    CLIENT = 20, _("Client waiting for the agent's reply")
    CLIENT_AFTER_OPERATOR = 25, _("Client wrote again after the agent's reply")
    OPERATOR = 40, _("Agent replied, waiting for the client")
    WAIT_CLIENT = 50, _("Closing: waiting for a rating or the close delay")
    CLOSE = 60, _("Closed")
    SPAM = 65, _("Spam")
    DUPLICATE = 69, _("Closed as duplicate")
    SILENTLY_CLOSE = 75, _("Closed silently")


class StatusGroup(models.TextChoices):
    """The three groups the chat list shows (reference §2.2)."""

    WAITING_AGENT = "waiting_agent", _("Client awaiting agent's response")
    AGENT_ANSWERED = "agent_answered", _("Agent responded")
    CLOSED = "closed", _("Conversation closed")


def status_group(status: int) -> StatusGroup:
    if status < SessionStatus.OPERATOR:
        return StatusGroup.WAITING_AGENT
    if status < SessionStatus.CLOSE:
        return StatusGroup.AGENT_ANSWERED
    return StatusGroup.CLOSED


class Client(models.Model):
    """A customer as one channel knows them, keyed by the platform's durable id (as a string)."""

    connector = models.ForeignKey(
        # History is never deleted as a side effect: a connector with clients is disconnected, not deleted.
        "contactcenter.Connector", verbose_name=_("channel"), on_delete=models.PROTECT, related_name="clients"
    )
    external_id = models.CharField(_("id on the channel"), max_length=255)
    # A second id the channel knows the same person by (WhatsApp: the phone number's wa_id next to the
    # business-scoped user id, whichever came second); messages under either id reach this client.
    alias_id = models.CharField(_("other id on the channel"), max_length=255, blank=True)
    name = models.CharField(_("name"), max_length=255, blank=True)
    phone = models.CharField(_("phone"), max_length=64, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    avatar_url = models.URLField(_("avatar"), max_length=1000, blank=True)
    profile_url = models.URLField(_("profile"), max_length=1000, blank=True)
    extra = models.JSONField(_("extra data"), default=dict, blank=True)
    blocked_at = models.DateTimeField(_("blocked us at"), null=True, blank=True)
    consent_at = models.DateTimeField(_("consent given at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        constraints = [
            models.UniqueConstraint(fields=["connector", "external_id"], name="client_unique_per_channel")
        ]
        indexes = [models.Index(fields=["connector", "alias_id"], name="client_alias")]

    def __str__(self) -> str:
        return self.name or f"#{self.pk}"


class Chat(models.Model):
    """One client's conversation thread on one line; it outlives its sessions (reference §2.1)."""

    line = models.ForeignKey(
        "openlines.OpenLine", verbose_name=_("line"), on_delete=models.PROTECT, related_name="chats"
    )
    client = models.ForeignKey(
        Client, verbose_name=_("client"), on_delete=models.CASCADE, related_name="chats"
    )
    external_chat_id = models.CharField(_("chat id on the channel"), max_length=255)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("chat")
        verbose_name_plural = _("chats")
        constraints = [
            models.UniqueConstraint(
                fields=["line", "client", "external_chat_id"], name="chat_unique_per_client_line"
            )
        ]

    def __str__(self) -> str:
        return f"{self.client} - {self.line}"


class FullSessionSave(RuntimeError):
    """Someone tried to write a whole session row (see `Session.save`)."""


class StaleSessionWrite(RuntimeError):
    """A session copy older than the row's last write was written (see `lifecycle.session_save`)."""


class Session(models.Model):
    """One enquiry (reference §2.5). Changed only through `openlines.services.lifecycle`."""

    class Mode(models.TextChoices):
        INPUT = "input", _("Inbound")
        OUTPUT = "output", _("Outbound")

    line = models.ForeignKey(
        "openlines.OpenLine", verbose_name=_("line"), on_delete=models.PROTECT, related_name="sessions"
    )
    chat = models.ForeignKey(Chat, verbose_name=_("chat"), on_delete=models.CASCADE, related_name="sessions")
    mode = models.CharField(_("direction"), max_length=10, choices=Mode.choices, default=Mode.INPUT)
    source = models.CharField(_("channel"), max_length=20)
    status = models.PositiveSmallIntegerField(
        _("status"), choices=SessionStatus.choices, default=SessionStatus.NEW, db_index=True
    )
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="openline_sessions",
    )
    operator_from_crm = models.BooleanField(_("routed to the CRM responsible"), default=False)
    bot = models.ForeignKey(
        "openlines.ChatBot",
        verbose_name=_("chat bot"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sessions",
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("previous session"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    is_first = models.BooleanField(_("first session of the chat"), default=True)

    # Flags that drive the machine (reference §2.2).
    wait_answer = models.BooleanField(_("waiting for an agent to accept"), default=True)
    wait_action = models.BooleanField(_("closing phase"), default=False)
    wait_vote = models.BooleanField(_("waiting for a rating"), default=False)
    closed = models.BooleanField(_("closed"), default=False)
    pause = models.BooleanField(_("pinned"), default=False)
    spam = models.BooleanField(_("spam"), default=False)
    worktime = models.BooleanField(_("created in working hours"), default=True)
    undistributed = models.BooleanField(_("waiting for a free agent"), default=False)
    send_no_answer_text = models.BooleanField(_("no-answer text sent"), default=False)
    send_no_work_time_text = models.BooleanField(_("off-hours text sent"), default=False)
    queue_history = models.JSONField(_("agents already offered"), default=list, blank=True)

    # Dates (reference §2.5) and derived durations in seconds.
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    modified_at = models.DateTimeField(_("modified"), default=timezone.now)
    date_operator = models.DateTimeField(_("forwarded to agent"), null=True, blank=True)
    date_operator_answer = models.DateTimeField(_("accepted"), null=True, blank=True)
    date_first_answer = models.DateTimeField(_("first answer"), null=True, blank=True)
    date_last_message = models.DateTimeField(_("last message"), null=True, blank=True)
    date_last_client_message = models.DateTimeField(_("last client message"), null=True, blank=True)
    date_operator_close = models.DateTimeField(_("closed by agent"), null=True, blank=True)
    date_close = models.DateTimeField(_("closed"), null=True, blank=True, db_index=True)
    date_close_vote = models.DateTimeField(_("ratings accepted until"), null=True, blank=True)
    bot_started_at = models.DateTimeField(_("bot joined"), null=True, blank=True)
    time_bot = models.PositiveIntegerField(_("bot time"), default=0)
    time_first_answer = models.PositiveIntegerField(_("time to first answer"), null=True, blank=True)
    time_answer = models.PositiveIntegerField(_("time to accept"), null=True, blank=True)
    time_close = models.PositiveIntegerField(_("time to close by agent"), null=True, blank=True)
    time_dialog = models.PositiveIntegerField(_("dialog time"), null=True, blank=True)

    message_count = models.PositiveIntegerField(_("messages"), default=0)
    vote = models.PositiveSmallIntegerField(_("client rating"), default=0)  # 5 like, 1 dislike, 0 none
    vote_head = models.PositiveSmallIntegerField(_("supervisor rating"), default=0)  # 1..5, 0 none
    comment_head = models.TextField(_("supervisor comment"), blank=True, max_length=10000)
    extra_url = models.URLField(_("source page"), max_length=2000, blank=True)
    block_date = models.DateTimeField(_("replies blocked after"), null=True, blank=True)
    block_reason = models.CharField(_("reply block reason"), max_length=100, blank=True)
    # Bumped by every write: a copy loaded before the last write is stale (see `lifecycle.session_save`).
    revision = models.PositiveIntegerField(_("revision"), default=0, editable=False)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["line", "closed", "undistributed", "id"], name="session_line_waiting"),
            models.Index(fields=["operator", "closed", "status"], name="session_operator_open"),
            # Routing counts every queued agent's open conversations per decision: an index-only scan.
            models.Index(
                fields=["operator", "line", "status"], condition=Q(closed=False), name="session_open_load"
            ),
            models.Index(fields=["chat", "closed"], name="session_chat_open"),
        ]
        constraints = [
            # At most one open session per chat (the reference closes extras as duplicates).
            models.UniqueConstraint(
                fields=["chat"], condition=Q(closed=False), name="one_open_session_per_chat"
            ),
        ]

    # The operator as last stored, to tell when it changes (None for a session not saved yet).
    saved_operator_id: int | None = None
    # The column values as last read or written by this copy (attname -> value), to write only what changed.
    _stored: dict[str, Any] | None = None

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_status_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Inserts only. An existing session is written field by field by `lifecycle.session_save`: a full-row
        save of a copy read before someone else's write would undo that write (routing's, typically)."""
        if not self._state.adding and kwargs.get("update_fields") is None:
            raise FullSessionSave(
                "A session is updated only through lifecycle.session_save (the changed fields), never "
                "saved whole."
            )
        super().save(*args, **kwargs)
        self.mark_stored()

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any, **kwargs: Any) -> Session:
        instance = super().from_db(db, field_names, values, **kwargs)
        instance.saved_operator_id = instance.__dict__.get("operator_id")
        instance.mark_stored()
        return instance

    def mark_stored(self) -> None:
        """This copy's values are what the row now holds."""
        self._stored = {
            f.attname: copy.copy(self.__dict__[f.attname])
            for f in self._meta.concrete_fields
            if f.attname in self.__dict__
        }

    def changed_fields(self) -> list[str]:
        """Names of the columns this copy changed since it was read or last written."""
        stored = self._stored or {}
        return [
            f.name
            for f in self._meta.concrete_fields
            if f.attname in self.__dict__
            and (f.attname not in stored or stored[f.attname] != self.__dict__[f.attname])
        ]

    @property
    def status_group(self) -> StatusGroup:
        return status_group(self.status)

    def owner_user_ids(self) -> set[int]:
        """Whose conversation this is, for "own" / "department" access levels (contactcenter.permissions)."""
        owners = set(self.offers.values_list("user_id", flat=True))
        owners |= set(self.participants.values_list("user_id", flat=True))
        if self.operator_id is not None:
            owners.add(self.operator_id)
        return owners


class SessionOffer(models.Model):
    """An agent who currently sees the session as theirs to accept (one in evenly/strictly, many in 'all')."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="offers")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="openline_offers"
    )
    offered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "user"], name="one_offer_per_agent")]
        indexes = [models.Index(fields=["user", "session"])]

    def __str__(self) -> str:
        return f"offer of #{self.session_id} to {self.user_id}"


class SessionParticipant(models.Model):
    """A staff member who joined the conversation without owning it (supervisor, colleague)."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "user"], name="one_participation_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id} in #{self.session_id}"


class DeadlineKind(models.TextChoices):
    QUEUE = "queue", _("Forward to the next agent")
    NO_ANSWER = "no_answer", _("Mark as unanswered")
    CLOSE = "close", _("Close")
    BOT = "bot", _("Hand over from the bot")


class SessionDeadline(models.Model):
    """A due time of a session; applied once by the timer loop, which deletes the row as it applies it."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="deadlines")
    kind = models.CharField(max_length=20, choices=DeadlineKind.choices)
    due_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "kind"], name="one_deadline_per_kind")]

    def __str__(self) -> str:
        return f"#{self.session_id} {self.kind} at {self.due_at:%Y-%m-%d %H:%M:%S}"


class Message(models.Model):
    class Author(models.TextChoices):
        CLIENT = "client", _("Client")
        AGENT = "agent", _("Agent")
        BOT = "bot", _("Bot")
        SYSTEM = "system", _("System")

    class Delivery(models.TextChoices):
        NONE = "", _("Not sent to a channel")
        PENDING = "pending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        FAILED = "failed", _("Failed")

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="messages")
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="messages")
    author_type = models.CharField(max_length=10, choices=Author.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(blank=True)
    attachments = models.JSONField(default=list, blank=True)
    # System messages the client never sees (e.g. "agent picked the conversation").
    internal = models.BooleanField(default=False)
    connector = models.ForeignKey(
        "contactcenter.Connector", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # NULL, not "", for messages that never crossed a channel: the uniqueness below ignores NULLs.
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    delivery = models.CharField(max_length=12, choices=Delivery.choices, default=Delivery.NONE, blank=True)
    delivery_error = models.CharField(max_length=500, blank=True)
    # While a channel send is retried: how many attempts were made and when the next one is due.
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    delivery_next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["id"]
        indexes = [models.Index(fields=["session", "id"])]
        constraints = [
            # Idempotent ingest: a channel's message id is stored once per channel.
            models.UniqueConstraint(
                fields=["connector", "external_id"],
                condition=Q(external_id__isnull=False),
                name="message_external_id_unique_per_channel",
            )
        ]

    def __str__(self) -> str:
        return f"{self.author_type}: {self.text[:50]}"


class Transfer(models.Model):
    class Mode(models.TextChoices):
        MANUAL = "manual", _("By an agent")
        AUTO = "auto", _("By the queue rules")
        BOT = "bot", _("By a bot")

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="transfers")
    mode = models.CharField(max_length=10, choices=Mode.choices)
    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    from_line = models.ForeignKey(
        "openlines.OpenLine", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    to_line = models.ForeignKey("openlines.OpenLine", null=True, on_delete=models.SET_NULL, related_name="+")
    reason = models.CharField(max_length=30, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.session_id} {self.mode} {self.from_user_id}->{self.to_user_id}"


class LineAgentState(models.Model):
    """Per line and agent: when they last got an enquiry ("evenly" picks the least recently assigned)."""

    line = models.ForeignKey("openlines.OpenLine", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["line", "user"], name="one_state_per_line_agent")]

    def __str__(self) -> str:
        return f"{self.user_id} on line {self.line_id}"


class RealtimeEvent(models.Model):
    """Every event a staff page or the widget sees, kept so a reconnecting client can ask for what it missed.

    The id is the cursor clients resume from; ids are taken at insert and transactions commit out of order,
    so a resync also looks back by `created_at` (openlines.resync). `session` scopes events about a
    conversation, `user` events addressed to one staff member (offers, notifications), `for_client` marks
    events the customer's widget may see.
    """

    session = models.ForeignKey(Session, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    chat = models.ForeignKey(Chat, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    for_client = models.BooleanField(default=False)
    type = models.CharField(max_length=50)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["session", "id"]),
            models.Index(fields=["user", "id"]),
            models.Index(fields=["chat", "for_client", "id"]),
            # A resync's lookback window (events committed late, below the page's cursor).
            models.Index(fields=["created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.pk} {self.type}"


class LivechatUpload(models.Model):
    """A file a widget visitor uploaded (anonymous): counted against the line's storage quota and the
    address's byte limit, deleted when never attached to a message, and after the retention time of a
    closed conversation when one is set (openlines.attachments)."""

    line = models.ForeignKey("openlines.OpenLine", on_delete=models.CASCADE, related_name="+")
    path = models.CharField(max_length=500, unique=True)
    size = models.PositiveBigIntegerField()
    address = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    attached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("live chat upload")
        verbose_name_plural = _("live chat uploads")
        indexes = [
            models.Index(fields=["attached_at", "created_at"]),
            models.Index(fields=["address", "created_at"]),
        ]

    def __str__(self) -> str:
        return self.path


class TranscriptMail(models.Model):
    """A conversation's transcript e-mailed to its client (reference §1.10 "Save message log", "Language
    preferences"): after the close, or on the client's request. Retried with backoff until sent."""

    class Reason(models.TextChoices):
        CLOSED = "closed", _("Conversation closed")
        REQUESTED = "requested", _("Requested by the client")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="transcript_mails")
    to = models.EmailField(_("to"))
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True, db_index=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("transcript e-mail")
        verbose_name_plural = _("transcript e-mails")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"#{self.session_id} → {self.to} ({self.status})"
