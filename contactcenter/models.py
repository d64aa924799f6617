"""Company structure and agent availability: departments, employee profiles, absences, work days, presence;
access roles, API tokens and the connectors of open lines."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contactcenter.connectors.kinds import ConnectorKind, KindSpec


class Department(models.Model):
    name = models.CharField(_("name"), max_length=200)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    head = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("head"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="headed_departments",
    )
    sort = models.PositiveIntegerField(_("sort"), default=500)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["sort", "name"]

    def __str__(self) -> str:
        return self.name


class EmployeeProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile", verbose_name=_("user")
    )
    display_name = models.CharField(_("display name"), max_length=200, blank=True)
    work_position = models.CharField(_("work position"), max_length=200, blank=True)
    avatar = models.ImageField(_("avatar"), upload_to="avatars/", blank=True)
    departments = models.ManyToManyField(
        Department, verbose_name=_("departments"), blank=True, related_name="members"
    )
    uses_time_tracking = models.BooleanField(
        _("uses work-time tracking"),
        default=False,
        help_text=_("When on, the agent is available for open lines only while their work day is open."),
    )
    openlines_paused = models.BooleanField(
        _("paused in open lines"),
        default=False,
        help_text=_("The agent's own pause: no new enquiries on lines that check availability."),
    )
    # Whether routing was last told that the agent is on leave. An absence begins and ends with the date,
    # or is added, changed or deleted in the admin, without a write of ours at that moment; the timer
    # loop compares this with the absences and announces the difference (services.availability).
    leave_announced = models.BooleanField(
        _("on leave (as announced to routing)"), default=False, editable=False
    )

    class Meta:
        verbose_name = _("employee profile")
        verbose_name_plural = _("employee profiles")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.display_name or self.user.get_full_name() or self.user.get_username()


class Absence(models.Model):
    class Kind(models.TextChoices):
        VACATION = "vacation", _("Vacation")
        SICK_LEAVE = "sick", _("Sick leave")
        OTHER = "other", _("Other leave")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="absences", verbose_name=_("user")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.VACATION)
    date_from = models.DateField(_("from"))
    date_to = models.DateField(_("to (inclusive)"))
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("absence")
        verbose_name_plural = _("absences")
        ordering = ["-date_from"]
        indexes = [models.Index(fields=["user", "date_from", "date_to"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(date_to__gte=models.F("date_from")), name="absence_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.get_kind_display()} {self.date_from} - {self.date_to}"


class WorkDay(models.Model):
    """One work day of an employee who tracks work time; at most one open per user."""

    class State(models.TextChoices):
        OPEN = "open", _("Working")
        PAUSED = "paused", _("On a break")
        CLOSED = "closed", _("Clocked out")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="work_days", verbose_name=_("user")
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.OPEN)
    started_at = models.DateTimeField(_("clocked in at"), default=timezone.now)
    ended_at = models.DateTimeField(_("clocked out at"), null=True, blank=True)

    class Meta:
        verbose_name = _("work day")
        verbose_name_plural = _("work days")
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=~Q(state="closed"), name="one_unclosed_work_day_per_user"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.started_at:%Y-%m-%d} {self.get_state_display()}"


class WorkDayEvent(models.Model):
    """History of a work day: clock in, pause, resume, clock out."""

    class Kind(models.TextChoices):
        CLOCK_IN = "clock_in", _("Clock in")
        PAUSE = "pause", _("Pause")
        RESUME = "resume", _("Resume")
        CLOCK_OUT = "clock_out", _("Clock out")

    work_day = models.ForeignKey(WorkDay, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("event"), max_length=20, choices=Kind.choices)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("work day event")
        verbose_name_plural = _("work day events")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.at:%H:%M}"


class Presence(models.Model):
    """Whether a staff member has the app open: live sockets and the last heartbeat."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presence", verbose_name=_("user")
    )
    connections = models.PositiveIntegerField(_("open connections"), default=0)
    last_seen = models.DateTimeField(_("last seen"), null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("presence")
        verbose_name_plural = _("presence")

    def __str__(self) -> str:
        return f"{self.user} ({self.connections})"


class WorkerHeartbeat(models.Model):
    """Liveness of background processes (timer loop, task runner), read by /healthz."""

    name = models.CharField(max_length=100)
    host = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    beat_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")
        constraints = [
            models.UniqueConstraint(fields=["name", "host", "pid"], name="one_heartbeat_per_worker")
        ]

    def __str__(self) -> str:
        return f"{self.name}@{self.host}:{self.pid}"


# --- Access roles (reference §7) ----------------------------------------------------------------


class AccessArea(models.TextChoices):
    """What a role grants access to; the reference's entity names are in the comments."""

    LINES = "lines", _("Open lines")  # LINES
    CONNECTORS = "connectors", _("Connect communication channels")  # CONNECTORS
    STATISTICS = "statistics", _("Communication statistics")  # SESSION
    HISTORY = "history", _("Communication history")  # HISTORY
    JOIN = "join", _("Join conversation")  # JOIN
    VOTE_HEAD = "vote_head", _("Conversation rating")  # VOTE_HEAD (supervisor rating)
    SETTINGS = "settings", _("Common parameters")  # SETTINGS


class AccessAction(models.TextChoices):
    VIEW = "view", _("view")
    MODIFY = "modify", _("modify")
    PERFORM = "perform", _("perform")


class AccessLevel(models.IntegerChoices):
    """Ordered so that the effective level of several roles is their maximum."""

    NONE = 0, _("Access denied")  # ''
    OWN = 1, _("Personal")  # A
    DEPARTMENT = 2, _("Personal and department")  # D
    ANY = 3, _("All")  # X


class Role(models.Model):
    """A named set of access levels; roles apply to all lines."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("access role")
        verbose_name_plural = _("access roles")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RolePermission(models.Model):
    """One area/action of a role; a missing row means the lowest level the area allows."""

    role = models.ForeignKey(
        Role, on_delete=models.CASCADE, related_name="permissions", verbose_name=_("role")
    )
    area = models.CharField(_("area"), max_length=20, choices=AccessArea.choices)
    action = models.CharField(_("action"), max_length=10, choices=AccessAction.choices)
    level = models.PositiveSmallIntegerField(
        _("level"), choices=AccessLevel.choices, default=AccessLevel.NONE
    )

    class Meta:
        verbose_name = _("role permission")
        verbose_name_plural = _("role permissions")
        constraints = [
            models.UniqueConstraint(fields=["role", "area", "action"], name="one_level_per_role_area_action")
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.area}.{self.action}={self.get_level_display()}"


class RoleAssignment(models.Model):
    """Gives a role to one user, to the members of a department, or to every employee."""

    role = models.ForeignKey(
        Role, on_delete=models.CASCADE, related_name="assignments", verbose_name=_("role")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="role_assignments",
    )
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="role_assignments",
    )
    include_subdepartments = models.BooleanField(
        _("include sub-departments"),
        default=True,
        help_text=_("For a department: members of its sub-departments get the role too."),
    )
    all_employees = models.BooleanField(
        _("all employees"), default=False, help_text=_("Every employee gets this role.")
    )

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(user__isnull=False, department__isnull=True, all_employees=False)
                    | Q(user__isnull=True, department__isnull=False, all_employees=False)
                    | Q(user__isnull=True, department__isnull=True, all_employees=True)
                ),
                name="role_assignment_has_exactly_one_target",
            ),
            models.UniqueConstraint(
                fields=["role", "user"], condition=Q(user__isnull=False), name="role_once_per_user"
            ),
            models.UniqueConstraint(
                fields=["role", "department"],
                condition=Q(department__isnull=False),
                name="role_once_per_department",
            ),
            models.UniqueConstraint(
                fields=["role"], condition=Q(all_employees=True), name="role_once_for_all_employees"
            ),
        ]

    def __str__(self) -> str:
        if self.all_employees:
            target = str(_("all employees"))
        elif self.department_id:
            target = str(self.department)
        else:
            target = str(self.user)
        return f"{self.role} → {target}"


# --- Personal API tokens ------------------------------------------------------------------------


class ApiToken(models.Model):
    """A personal API key. Only a hash is stored; the key is shown once when it is created."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100, help_text=_("What the token is used for."))
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


# --- Webhook events of messenger connectors -------------------------------------------------------


class WebhookEvent(models.Model):
    """One webhook request a messenger platform sent to a connector, stored raw before it is processed.

    Stored in the request that received it (the platform gets its 200 at once), processed by a background
    task. `dedup_key` is derived from the platform's own ids, so a replay stores nothing twice.
    """

    connector = models.ForeignKey(
        "contactcenter.Connector",
        verbose_name=_("connector"),
        on_delete=models.CASCADE,
        related_name="webhook_events",
    )
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    body = models.BinaryField(_("raw body"))
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    dedup_key = models.CharField(_("deduplication key"), max_length=128)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    error = models.CharField(_("processing error"), max_length=500, blank=True)
    # When the timer loop hands the event to a task again if it is still unprocessed (a lost task).
    process_after = models.DateTimeField(_("retry processing after"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("processing attempts"), default=0)

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        constraints = [
            models.UniqueConstraint(
                fields=["connector", "dedup_key"], name="webhook_event_once_per_connector"
            )
        ]
        indexes = [
            models.Index(fields=["connector", "received_at"], name="webhook_event_recent"),
            models.Index(fields=["processed_at", "process_after"], name="webhook_event_due"),
        ]

    def __str__(self) -> str:
        return f"{self.connector_id} {self.dedup_key[:20]} at {self.received_at:%Y-%m-%d %H:%M:%S}"


class UnroutedWebhook(models.Model):
    """A Meta account (phone number id, page id, Instagram id) that sent us signed webhooks no channel owns.

    Meta posts every account of an app to one callback URL: items for an account not connected here are
    counted per account (one row each) and shown on the Contact Center page instead of being dropped.
    """

    kind = models.CharField(_("kind"), max_length=20)
    account_id = models.CharField(_("account id"), max_length=255)
    first_seen_at = models.DateTimeField(_("first seen at"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen at"), default=timezone.now)
    count = models.PositiveIntegerField(_("requests"), default=0)

    class Meta:
        verbose_name = _("unrouted webhook event")
        verbose_name_plural = _("unrouted webhook events")
        constraints = [
            models.UniqueConstraint(fields=["kind", "account_id"], name="unrouted_webhook_once_per_account")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.account_id} x{self.count}"


class MediaDownload(models.Model):
    """A client's file whose download failed for a passing reason: retried by the timer loop.

    `position` is the attachment's index in `message.attachments`. The row lives while retries remain;
    the attachment itself shows the state (`download`: "retrying", then the stored file or "failed").
    """

    message = models.ForeignKey(
        "openlines.Message", verbose_name=_("message"), on_delete=models.CASCADE, related_name="downloads"
    )
    position = models.PositiveSmallIntegerField(_("attachment position"))
    connector = models.ForeignKey(
        "contactcenter.Connector", verbose_name=_("connector"), on_delete=models.CASCADE, related_name="+"
    )
    media_ref = models.TextField(_("platform media reference"))
    file_name = models.CharField(_("file name"), max_length=255, blank=True)
    mime_type = models.CharField(_("MIME type"), max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=1)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    give_up_at = models.DateTimeField(_("give up at"))
    last_error = models.CharField(_("last error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("media download")
        verbose_name_plural = _("media downloads")
        constraints = [
            models.UniqueConstraint(fields=["message", "position"], name="media_download_once_per_attachment")
        ]
        indexes = [models.Index(fields=["next_attempt_at"], name="media_download_due")]

    def __str__(self) -> str:
        return f"{self.message_id}[{self.position}] attempt {self.attempts}"


class OutboundProgress(models.Model):
    """How far a messenger send got before it failed, so that a retry sends only the rest.

    A long text is split into several platform messages and a file may come before it; when the
    platform throttles half way, the retry must not repeat what the client already has.
    """

    message = models.OneToOneField(
        "openlines.Message", verbose_name=_("message"), on_delete=models.CASCADE, related_name="+"
    )
    sent_ids = models.JSONField(_("platform ids already sent"), default=list, blank=True)
    attachments_sent = models.PositiveSmallIntegerField(_("attachments already sent"), default=0)
    unsent_text = models.TextField(_("text still to send"), null=True, blank=True)  # noqa: DJ001

    class Meta:
        verbose_name = _("outbound progress")
        verbose_name_plural = _("outbound progress")

    def __str__(self) -> str:
        return f"{self.message_id}: {len(self.sent_ids)} sent"


# --- Connectors (channels connected to open lines) ----------------------------------------------


class Connector(models.Model):
    """One channel connected to one open line: a live chat, a messenger account, a REST client.

    `secrets` holds the channel's credentials; it is never rendered back, logged or part of str/repr.
    A messenger account (kind + account_id) can feed only one line, enforced by the database.
    """

    uuid = models.UUIDField(_("public id"), default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("channel"), max_length=20, choices=ConnectorKind.choices)
    line = models.ForeignKey(
        "openlines.OpenLine", verbose_name=_("open line"), on_delete=models.CASCADE, related_name="connectors"
    )
    name = models.CharField(_("name"), max_length=255)
    account_id = models.CharField(
        _("account"),
        max_length=255,
        blank=True,
        help_text=_("The account on the platform: bot id, phone number id, page id, ..."),
    )
    secrets = models.JSONField(_("credentials"), default=dict, blank=True, editable=False)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Disconnecting keeps the row, and with it every client and conversation; the webhook is removed at
    # the platform and the platform credentials are forgotten. Connecting the same account again (or, for
    # the live chat, the same line; for the REST connector, the same row) continues with this row.
    disconnected_at = models.DateTimeField(_("disconnected at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("connector")
        verbose_name_plural = _("connectors")
        ordering = ["kind", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "account_id"],
                condition=~Q(account_id=""),
                name="messenger_account_on_one_line",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"

    def __repr__(self) -> str:
        return f"<Connector {self.pk} {self.kind} account={self.account_id!r} line={self.line_id}>"

    @property
    def kind_spec(self) -> KindSpec:
        return ConnectorKind(self.kind).spec

    def owner_user_ids(self) -> set[int]:
        """A connector belongs to whoever its line belongs to (see contactcenter.permissions)."""
        from contactcenter.permissions import line_owner_user_ids

        return line_owner_user_ids(line=self.line)

    def secret_is_set(self, name: str) -> bool:
        return bool(self.secrets.get(name))

    @property
    def is_disconnected(self) -> bool:
        return self.disconnected_at is not None


class OutboundDelivery(models.Model):
    """One outgoing message on its way to a connector's own endpoint, with its retry schedule.

    Kinds whose sender POSTs to an endpoint that may be down (the REST connector's callback) keep one row
    per message: `next_attempt_at` is when the timer loop hands the next attempt to a background task
    (see contactcenter.services.outbound). The message's own `delivery` field is what staff see.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Being sent")
        SENT = "sent", _("Acknowledged")
        FAILED = "failed", _("Given up")

    message = models.OneToOneField(
        "openlines.Message",
        verbose_name=_("message"),
        on_delete=models.CASCADE,
        related_name="outbound_delivery",
    )
    connector = models.ForeignKey(
        Connector, verbose_name=_("connector"), on_delete=models.CASCADE, related_name="outbound_deliveries"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Raised by an agent's retry of a failed message: a fresh schedule after the attempts made so far.
    max_attempts = models.PositiveSmallIntegerField(_("attempt limit"), default=8)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    # Set while an attempt is queued or running (until `next_attempt_at`, its lease); None while waiting.
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbound delivery")
        verbose_name_plural = _("outbound deliveries")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbound_delivery_due")]

    def __str__(self) -> str:
        return f"{self.message_id} {self.status} ({self.attempts})"


class OutboxTask(models.Model):
    """A background task that must not be lost (a bot webhook, a KPI e-mail), written in the transaction
    that causes it. Queueing it after commit is only the fast path; the timer loop queues what is due and
    not claimed, and failed runs are retried with backoff (see contactcenter.background). A row is deleted
    when its task succeeds and kept as failed, with the error, when it gave up."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        FAILED = "failed", _("Given up")

    func = models.CharField(_("task"), max_length=200)
    args = models.JSONField(_("arguments"), default=list, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # When the task is due again; while it is queued or running, the end of its lease.
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("outbox task")
        verbose_name_plural = _("outbox tasks")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_task_due")]

    def __str__(self) -> str:
        return f"{self.func} {self.status} ({self.attempts})"
