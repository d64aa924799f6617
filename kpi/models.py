"""Response-time KPI clocks, per-session KPI figures, chat-list preferences and exports.

Definitions of every figure are in docs/metrics.md.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class KpiClock(models.Model):
    """One client message awaiting an agent's answer (reference §2.5, `SessionKpiMessagesTable`).

    At most one clock runs per session: it starts with the first unanswered client message once a human
    can answer, and stops at the agent's next message (or when the session closes).
    """

    class Kind(models.TextChoices):
        FIRST = "first", _("First answer")
        FURTHER = "further", _("Further answer")

    session = models.ForeignKey(
        "openlines.Session",
        verbose_name=_("conversation"),
        on_delete=models.CASCADE,
        related_name="kpi_clocks",
    )
    message = models.ForeignKey(
        "openlines.Message",
        verbose_name=_("client message"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    received_at = models.DateTimeField(_("received"))
    # Receipt, or the next start of the line's working hours when the message came outside them.
    started_at = models.DateTimeField(_("counted from"))
    limit_seconds = models.PositiveIntegerField(_("KPI time"), default=0)  # 0: no deadline
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    stopped_at = models.DateTimeField(_("stopped without an answer"), null=True, blank=True)
    paused_total = models.PositiveIntegerField(_("paused seconds"), default=0)
    paused_since = models.DateTimeField(_("paused since"), null=True, blank=True)
    overdue_at = models.DateTimeField(_("found overdue"), null=True, blank=True)
    notified_at = models.DateTimeField(_("notification sent"), null=True, blank=True)
    response_seconds = models.PositiveIntegerField(_("response time"), null=True, blank=True)

    class Meta:
        verbose_name = _("KPI clock")
        verbose_name_plural = _("KPI clocks")
        indexes = [
            # The timer's scan: only running, unpaused clocks that have not been found overdue yet.
            models.Index(
                fields=["due_at"],
                name="kpi_clock_due",
                condition=Q(
                    answered_at__isnull=True,
                    stopped_at__isnull=True,
                    overdue_at__isnull=True,
                    paused_since__isnull=True,
                    due_at__isnull=False,
                ),
            ),
            models.Index(fields=["session", "id"], name="kpi_clock_session"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["session"],
                condition=Q(answered_at__isnull=True, stopped_at__isnull=True),
                name="kpi_one_running_clock_per_session",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.session_id} {self.kind} from {self.received_at:%Y-%m-%d %H:%M:%S}"

    @property
    def running(self) -> bool:
        return self.answered_at is None and self.stopped_at is None


class SessionKpi(models.Model):
    """KPI response figures of one session, kept up to date as clocks stop (docs/metrics.md)."""

    session = models.OneToOneField(
        "openlines.Session",
        verbose_name=_("conversation"),
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="kpi",
    )
    first_response = models.PositiveIntegerField(_("initial response time"), null=True, blank=True)
    total_response = models.PositiveIntegerField(_("total response time"), default=0)
    response_count = models.PositiveIntegerField(_("answered messages"), default=0)
    average_response = models.PositiveIntegerField(_("average response time"), null=True, blank=True)
    max_response = models.PositiveIntegerField(_("maximum response time"), null=True, blank=True)
    breaches = models.PositiveIntegerField(_("late answers"), default=0)

    class Meta:
        verbose_name = _("conversation KPI")
        verbose_name_plural = _("conversation KPIs")

    def __str__(self) -> str:
        return f"KPI of #{self.session_id}"


class ChatListPreference(models.Model):
    """The chat-list columns a user chose in the gear menu."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_list_preference"
    )
    columns = models.JSONField(default=list)

    class Meta:
        verbose_name = _("chat list preference")
        verbose_name_plural = _("chat list preferences")

    def __str__(self) -> str:
        return f"columns of {self.user_id}"


class ChatExport(models.Model):
    """A large export of the chat list, written by a background task while the page polls its progress."""

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    format = models.CharField(max_length=5)
    query = models.CharField(max_length=4000, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    file = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("chat list export")
        verbose_name_plural = _("chat list exports")

    def __str__(self) -> str:
        return f"export {self.id} {self.state}"
