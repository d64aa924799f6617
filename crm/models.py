"""CRM records (reference §6): contacts, companies, leads, deals, their sources and communications, and
the per-conversation binding and activity that tie open-line sessions to them.

The engine's models are not touched: `SessionCrmBinding` and `Activity` are keyed by the session and
live here. Records created by a conversation remember it in `origin_session` (reference §6.4: only
those follow the conversation to a new agent).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Semantics(models.TextChoices):
    """Whether a lead status or deal stage is still in progress or final."""

    PROCESS = "process", _("In progress")
    SUCCESS = "success", _("Successful")
    FAILURE = "failure", _("Failed")


class Source(models.Model):
    """Where a record came from. Automatic sources (`line` + `channel`) are created per line and channel
    kind when a line's `crm_source` is "create" (reference §6.3); their code is "<line id>|<kind>"."""

    code = models.CharField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    line = models.ForeignKey(
        "openlines.OpenLine",
        verbose_name=_("open line"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    channel = models.CharField(_("channel"), max_length=20, blank=True)
    sort = models.PositiveIntegerField(_("sort"), default=500)

    class Meta:
        verbose_name = _("source")
        verbose_name_plural = _("sources")
        ordering = ["sort", "name"]

    def __str__(self) -> str:
        return self.name


class LeadStatus(models.Model):
    code = models.CharField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200)
    sort = models.PositiveIntegerField(_("sort"), default=500)
    semantics = models.CharField(
        _("meaning"), max_length=10, choices=Semantics.choices, default=Semantics.PROCESS
    )

    class Meta:
        verbose_name = _("lead status")
        verbose_name_plural = _("lead statuses")
        ordering = ["sort", "id"]

    def __str__(self) -> str:
        return self.name


class Pipeline(models.Model):
    """A deal pipeline ("funnel", reference `CRM_CREATE_SECOND`)."""

    name = models.CharField(_("name"), max_length=200)
    sort = models.PositiveIntegerField(_("sort"), default=500)
    is_default = models.BooleanField(
        _("default pipeline"), default=False, help_text=_("Used when a line names no pipeline.")
    )

    class Meta:
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        ordering = ["sort", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="crm_one_default_pipeline"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Stage(models.Model):
    pipeline = models.ForeignKey(
        Pipeline, verbose_name=_("pipeline"), on_delete=models.CASCADE, related_name="stages"
    )
    name = models.CharField(_("name"), max_length=200)
    sort = models.PositiveIntegerField(_("sort"), default=500)
    semantics = models.CharField(
        _("meaning"), max_length=10, choices=Semantics.choices, default=Semantics.PROCESS
    )

    class Meta:
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        ordering = ["pipeline", "sort", "id"]

    def __str__(self) -> str:
        return f"{self.pipeline}: {self.name}"


class Record(models.Model):
    """What contacts, companies, leads and deals share."""

    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsible person"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    source = models.ForeignKey(
        Source, verbose_name=_("source"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comments = models.TextField(_("comments"), blank=True)
    origin_session = models.ForeignKey(
        "openlines.Session",
        verbose_name=_("created by conversation"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    modified_at = models.DateTimeField(_("modified"), auto_now=True)

    # "lead", "deal", "contact", "company": the key used by bindings, links and the API.
    entity_type: str = ""

    class Meta:
        abstract = True

    @property
    def title_text(self) -> str:
        return str(self)

    def admin_url(self) -> str:
        return reverse(f"admin:crm_{self._meta.model_name}_change", args=[self.pk])


class Company(Record):
    entity_type = "company"
    title = models.CharField(_("name"), max_length=255)

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title


class Contact(Record):
    entity_type = "contact"
    name = models.CharField(_("name"), max_length=255, blank=True)
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
    )

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name or _("Contact #%(id)s") % {"id": self.pk}


class Lead(Record):
    entity_type = "lead"
    title = models.CharField(_("title"), max_length=255)
    name = models.CharField(_("client name"), max_length=255, blank=True)
    company_title = models.CharField(_("company name"), max_length=255, blank=True)
    status = models.ForeignKey(
        LeadStatus,
        verbose_name=_("status"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
    )
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
    )

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.title


class Deal(Record):
    entity_type = "deal"
    title = models.CharField(_("title"), max_length=255)
    pipeline = models.ForeignKey(
        Pipeline, verbose_name=_("pipeline"), on_delete=models.PROTECT, related_name="deals"
    )
    stage = models.ForeignKey(Stage, verbose_name=_("stage"), on_delete=models.PROTECT, related_name="deals")
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
    )
    company = models.ForeignKey(
        Company,
        verbose_name=_("company"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
    )

    class Meta:
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.title


class Communication(models.Model):
    """A phone, e-mail, messenger identity or web site of exactly one contact, company or lead.

    Values are stored normalised (E.164 phones, lower-case e-mails, "imol|<kind>|<connector>|<id>"
    identities) so that recognition is an exact, indexed match.
    """

    class Kind(models.TextChoices):
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("E-mail")
        IM = "im", _("Messenger")
        WEB = "web", _("Web site")

    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=500)
    value_type = models.CharField(
        _("label"), max_length=30, blank=True, help_text=_("E.g. work, mobile, or the messenger.")
    )
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="communications"
    )
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.CASCADE, related_name="communications"
    )
    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="communications"
    )

    class Meta:
        verbose_name = _("communication")
        verbose_name_plural = _("communications")
        ordering = ["kind", "id"]
        indexes = [models.Index(fields=["kind", "value"], name="crm_communication_lookup")]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(contact__isnull=False, company__isnull=True, lead__isnull=True)
                    | Q(contact__isnull=True, company__isnull=False, lead__isnull=True)
                    | Q(contact__isnull=True, company__isnull=True, lead__isnull=False)
                ),
                name="crm_communication_one_owner",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"


class SessionCrmBinding(models.Model):
    """The CRM records one conversation is bound to (reference §6.7), and how they got there."""

    session = models.OneToOneField(
        "openlines.Session",
        verbose_name=_("conversation"),
        on_delete=models.CASCADE,
        related_name="crm_binding",
    )
    lead = models.ForeignKey(Lead, null=True, blank=True, on_delete=models.SET_NULL, related_name="bindings")
    deal = models.ForeignKey(Deal, null=True, blank=True, on_delete=models.SET_NULL, related_name="bindings")
    contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="bindings"
    )
    company = models.ForeignKey(
        Company, null=True, blank=True, on_delete=models.SET_NULL, related_name="bindings"
    )
    # The client matched records that existed before this conversation (drives `crm_forward`).
    recognized = models.BooleanField(_("client recognised"), default=False)
    # Records created while nobody held the conversation get the first agent it is assigned to.
    responsible_pending = models.BooleanField(default=False)
    # The live chat form was filled in during this conversation (the welcome-form responsible rule).
    form_filled = models.BooleanField(_("contact form filled in"), default=False)
    # Phones and e-mails the chat tracker already handled, so a repeated one is not searched again.
    tracked = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("conversation CRM binding")
        verbose_name_plural = _("conversation CRM bindings")

    def __str__(self) -> str:
        return f"#{self.session_id}"


class Activity(models.Model):
    """The open-line activity of one conversation (reference §6.6): answered on the first reply,
    completed on close. Its message log is the session's messages, rendered on demand
    (`crm.selectors.activity_message_log`) rather than copied, so it can never drift from the chat."""

    session = models.OneToOneField(
        "openlines.Session",
        verbose_name=_("conversation"),
        on_delete=models.CASCADE,
        related_name="crm_activity",
    )
    subject = models.CharField(_("subject"), max_length=255)
    responsible = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsible person"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        verbose_name = _("conversation activity")
        verbose_name_plural = _("conversation activities")
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.subject

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def completed(self) -> bool:
        return self.completed_at is not None
