"""Open lines and their settings (reference §1.1-§1.10), the agent queue, agreements, canned responses, bots.

Units follow the reference: durations are seconds, except `full_close_time` which is minutes.
Choices are exactly the options of the reference UI; the rules that tie settings together live in
`openlines.validation` (used by the admin form and the JSON API alike).
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

from openlines.default_texts import LANGUAGE_CODES, default_text


def default_language() -> str:
    """The site language if a default text set exists for it, else English."""
    code = (settings.LANGUAGE_CODE or "en")[:2].lower()
    return code if code in LANGUAGE_CODES else "en"


def default_worktime_timezone() -> str:
    return str(settings.TIME_ZONE or "UTC")


def generate_bot_secret() -> str:
    return secrets.token_urlsafe(32)


def generate_line_code() -> str:
    """A short random slug used in public widget URLs; unguessable enough not to enumerate lines."""
    return secrets.token_hex(6)


@deconstructible
class DefaultText:
    """Field default: the client text `key` in the site language.

    The line's own language is applied by `openlines.services.lines.line_create`; this default only makes a
    line created directly through the ORM start with sensible texts.
    """

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self) -> str:
        return default_text(self.key, default_language())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DefaultText) and other.key == self.key

    def __hash__(self) -> int:
        return hash(self.key)


# Seconds. Reference §1.1 QUEUE_TIME / §1.6 NO_ANSWER_TIME UI options: 1 minute … 12 hours.
WAIT_TIME_CHOICES = [
    (60, _("1 minute")),
    (180, _("3 minutes")),
    (300, _("5 minutes")),
    (600, _("10 minutes")),
    (900, _("15 minutes")),
    (1800, _("30 minutes")),
    (3600, _("1 hour")),
    (7200, _("2 hours")),
    (10800, _("3 hours")),
    (21600, _("6 hours")),
    (28800, _("8 hours")),
    (43200, _("12 hours")),
]

# Minutes (the one setting the reference keeps in minutes).
FULL_CLOSE_TIME_CHOICES = [
    (0, _("Close immediately")),
    (1, _("1 minute")),
    (2, _("2 minutes")),
    (5, _("5 minutes")),
    (10, _("10 minutes")),
    (30, _("30 minutes")),
    (60, _("1 hour")),
    (1440, _("1 day")),
]

# Seconds: 1 hour … 1 month.
AUTO_CLOSE_TIME_CHOICES = [
    (3600, _("1 hour")),
    (14400, _("4 hours")),
    (28800, _("8 hours")),
    (86400, _("1 day")),
    (172800, _("2 days")),
    (604800, _("1 week")),
    (2678400, _("1 month")),
]

# Seconds; 0 = ratings are accepted without a time limit.
VOTE_TIME_LIMIT_CHOICES = [
    (0, _("No limit")),
    (86400, _("1 day")),
    (172800, _("2 days")),
    (259200, _("3 days")),
    (345600, _("4 days")),
    (432000, _("5 days")),
    (604800, _("7 days")),
    (2592000, _("30 days")),
]

# Seconds; 0 = the bot never hands the conversation over by itself.
WELCOME_BOT_TIME_CHOICES = [
    (60, _("1 minute")),
    (180, _("3 minutes")),
    (300, _("5 minutes")),
    (600, _("10 minutes")),
    (900, _("15 minutes")),
    (1800, _("30 minutes")),
    (0, _("Never transfer automatically")),
]


class Weekday(models.TextChoices):
    MO = "MO", _("Monday")
    TU = "TU", _("Tuesday")
    WE = "WE", _("Wednesday")
    TH = "TH", _("Thursday")
    FR = "FR", _("Friday")
    SA = "SA", _("Saturday")
    SU = "SU", _("Sunday")


class Agreement(models.Model):
    """A consent text shown to clients ("Cookie consent" tab).

    Every version is its own row so that a consent a client gave keeps pointing at the exact text they saw.
    Editing an agreement creates a new row with `version + 1` and `previous` set, and moves the lines that
    used the old version to the new one (`openlines.services.agreements.agreement_revise`).
    """

    title = models.CharField(_("title"), max_length=255)
    text = models.TextField(_("text"))
    version = models.PositiveIntegerField(_("version"), default=1)
    previous = models.OneToOneField(
        "self",
        verbose_name=_("previous version"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="next_version",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("consent agreement")
        verbose_name_plural = _("consent agreements")
        ordering = ["title", "-version"]

    def __str__(self) -> str:
        return f"{self.title} (v{self.version})"

    @property
    def is_current(self) -> bool:
        return not hasattr(self, "next_version")


class CannedResponseList(models.Model):
    """A named set of canned responses; a line uses one list (`OpenLine.canned_responses`)."""

    title = models.CharField(_("title"), max_length=255)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("canned response list")
        verbose_name_plural = _("canned response lists")
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title


class CannedResponse(models.Model):
    response_list = models.ForeignKey(
        CannedResponseList, verbose_name=_("list"), on_delete=models.CASCADE, related_name="responses"
    )
    title = models.CharField(_("title"), max_length=255)
    text = models.TextField(_("text"))
    shortcut = models.CharField(
        _("shortcut"),
        max_length=50,
        blank=True,
        help_text=_("Type it after a slash in the chat to insert the response, e.g. /hello."),
    )
    sort = models.PositiveIntegerField(_("sort"), default=500)

    class Meta:
        verbose_name = _("canned response")
        verbose_name_plural = _("canned responses")
        ordering = ["sort", "title", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["response_list", "shortcut"],
                condition=~Q(shortcut=""),
                name="canned_response_unique_shortcut",
                violation_error_message=_("Another response in this list uses this shortcut."),
            )
        ]

    def __str__(self) -> str:
        return self.title


class ChatBot(models.Model):
    """Bots that can greet clients on a line; built-in scripted bots or bots behind a webhook.

    The engine issue gives them behaviour; this registry only holds what a line needs to pick one.
    """

    class Kind(models.TextChoices):
        SCRIPTED = "scripted", _("Built-in scripted bot")
        WEBHOOK = "webhook", _("Webhook bot")

    name = models.CharField(_("name"), max_length=255)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.SCRIPTED)
    webhook_url = models.URLField(_("webhook URL"), blank=True)
    secret = models.CharField(
        _("secret"),
        max_length=128,
        blank=True,
        default=generate_bot_secret,
        help_text=_("Shared secret used to sign the requests sent to the webhook."),
    )
    script = models.JSONField(_("script"), default=dict, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("chat bot")
        verbose_name_plural = _("chat bots")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class OpenLine(models.Model):
    """An open line ("Open Channel") and every setting of the reference's settings tabs."""

    class QueueType(models.TextChoices):
        EVENLY = "evenly", _("Evenly")
        STRICTLY = "strictly", _("Exactly as enqueued")
        ALL = "all", _("To everybody")

    class TypeMaxChat(models.TextChoices):
        ANSWERED_NEW = "answered_new", _("Replied to")
        ANSWERED = "answered", _("Waiting for client's reaction")
        CLOSED = "closed", _("Closed")

    class OperatorData(models.TextChoices):
        PROFILE = "profile", _("Use employee user profile")
        QUEUE = "queue", _("Use the open line's queue entries")
        HIDE = "hide", _("Hide agent information")

    class CrmCreate(models.TextChoices):
        NONE = "none", _("Create manually in the chat window")
        LEAD = "lead", _("Auto create a new lead")
        DEAL = "deal", _("Auto create a deal")

    class Rule(models.TextChoices):
        TEXT = "text", _("Send text")
        NONE = "none", _("Do nothing")

    class WelcomeBotJoin(models.TextChoices):
        FIRST = "first", _("Only the first time a client starts a conversation")
        ALWAYS = "always", _("Each time")

    class WelcomeBotLeft(models.TextChoices):
        QUEUE = "queue", _("When the conversation is passed to an agent")
        CLOSE = "close", _("When the conversation is completed")

    code = models.SlugField(
        _("code"),
        max_length=32,
        unique=True,
        default=generate_line_code,
        help_text=_("Identifies the line in public widget URLs."),
    )

    # --- Queue (§1.1) ---
    queue_type = models.CharField(
        _("distribute enquiries"),
        max_length=20,
        choices=QueueType.choices,
        default=QueueType.ALL,
        help_text=_(
            "Evenly: the agent who has waited longest since their last enquiry gets the next one. "
            "Exactly as enqueued: the enquiry walks the queue in order until someone responds. "
            "To everybody: all available agents get it at once and the first to answer takes it."
        ),
    )
    queue_time = models.PositiveIntegerField(
        _("time before forwarding to the next agent"),
        choices=WAIT_TIME_CHOICES,
        default=60,
        help_text=_("If the agent does not accept the enquiry within this time it goes to the next agent."),
    )
    check_available = models.BooleanField(
        _("check that an agent is available"),
        default=False,
        help_text=_(
            "Route enquiries only to agents who are not on leave, have their work day open or are online. "
            "Also sends the off-hours reply when nobody is available."
        ),
    )
    max_chat = models.PositiveIntegerField(
        _("maximum enquiries per agent"),
        default=0,
        help_text=_("0 means no limit on this line (an agent never holds more than 1000 conversations)."),
    )
    type_max_chat = models.CharField(
        _("stop counting an enquiry towards the limit when it is"),
        max_length=20,
        choices=TypeMaxChat.choices,
        default=TypeMaxChat.ANSWERED,
        help_text=_(
            "Replied to: an enquiry stops counting once the agent has answered it. "
            "Waiting for client's reaction: it stops counting while the agent has the last word. "
            "Closed: it counts until it is closed."
        ),
    )
    session_priority = models.PositiveIntegerField(
        _("session priority (seconds)"),
        default=0,
        help_text=_("Reserved for the engine; kept for settings exports (0 to 86400)."),
    )

    # --- Agent information (§1.2) ---
    operator_data = models.CharField(
        _("agent information shown to clients"),
        max_length=20,
        choices=OperatorData.choices,
        default=OperatorData.PROFILE,
        help_text=_(
            "The employee's profile, the name/position/photo entered for each queue entry, "
            "or one neutral identity for everybody."
        ),
    )
    default_operator_name = models.CharField(
        _("agent name shown to clients"),
        max_length=255,
        blank=True,
        help_text=_("Shown instead of the real agent when agent information is hidden."),
    )
    default_operator_avatar = models.ImageField(
        _("agent photo shown to clients"), upload_to="openlines/operators/", blank=True
    )

    # --- CRM (§1.3) ---
    crm = models.BooleanField(
        _("verify client in CRM database"),
        default=True,
        help_text=_("Look the client up in the CRM and link the conversation to what is found."),
    )
    crm_chat_tracker = models.BooleanField(
        _("enable chat tracker"),
        default=True,
        help_text=_(
            "Pick up phone numbers and e-mail addresses from client messages and save them in the CRM."
        ),
    )
    crm_create = models.CharField(
        _("if the client was not found in the CRM"),
        max_length=10,
        choices=CrmCreate.choices,
        default=CrmCreate.LEAD,
    )
    crm_create_second = models.CharField(
        _("create deal in this pipeline"),
        max_length=50,
        blank=True,
        help_text=_("Deal pipeline id; empty means the default pipeline."),
    )
    crm_create_third = models.BooleanField(
        _("use an active deal, don't create a new one"),
        default=True,
    )
    crm_source = models.CharField(
        _("source of new leads or deals"),
        max_length=50,
        default="create",
        help_text=_('"create" uses an automatic source per line and channel; otherwise a CRM source id.'),
    )
    crm_forward = models.BooleanField(
        _("transfer enquiry to the responsible person if the client is recognised"),
        default=True,
        help_text=_(
            "The CRM record's responsible person gets the enquiry even if they are not in the queue."
        ),
    )
    crm_transfer_change = models.BooleanField(
        _("change the responsible person when the enquiry is transferred manually"),
        default=True,
        help_text=_("Leads or deals created by the conversation follow it to the new agent."),
    )
    category_enable = models.BooleanField(_("use a CRM category"), default=False)
    category_id = models.PositiveIntegerField(_("CRM category id"), default=0)

    # --- Worktime (§1.4) ---
    worktime_enable = models.BooleanField(
        _("customize working time"),
        default=False,
        help_text=_("Outside these hours clients can get an automatic off-hours reply."),
    )
    worktime_timezone = models.CharField(
        _("time zone"), max_length=64, default=default_worktime_timezone, blank=True
    )
    worktime_from = models.TimeField(_("working day starts"), default="09:00")
    worktime_to = models.TimeField(_("working day ends"), default="18:30")
    worktime_dayoff = models.JSONField(
        _("days off"), default=list, blank=True, help_text=_("Weekdays on which nobody works.")
    )
    worktime_holidays = models.JSONField(
        _("holidays"),
        default=list,
        blank=True,
        help_text=_("Dates in DD.MM format, repeating every year, e.g. 01.01, 25.12."),
    )
    worktime_dayoff_rule = models.CharField(
        _("off-hours enquiry processing"),
        max_length=10,
        choices=Rule.choices,
        default=Rule.NONE,
    )
    worktime_dayoff_text = models.TextField(
        _("off-hours reply"), blank=True, default=DefaultText("worktime_dayoff")
    )

    # --- Agreement (§1.5) ---
    agreement_message = models.BooleanField(
        _("send warning about collecting personal data"),
        default=False,
        help_text=_(
            "At the start of a new chat the client gets a notice with a link to the agreement; "
            "agents see a warning. The live chat skips it if consent was given in the widget."
        ),
    )
    agreement = models.ForeignKey(
        Agreement,
        verbose_name=_("agreement"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="lines",
    )

    # --- Auto actions (§1.6) ---
    welcome_message = models.BooleanField(
        _("send greetings"),
        default=True,
        help_text=_("Not sent when a chat bot takes the conversation."),
    )
    welcome_message_text = models.TextField(_("greeting"), blank=True, default=DefaultText("welcome"))
    send_welcome_each_session = models.BooleanField(
        _("greet at every new conversation"),
        default=False,
        help_text=_("Off: only the first time the client writes to this line."),
    )
    use_welcome_form = models.BooleanField(
        _("ask for contact details in the live chat"),
        default=True,
        help_text=_("Live chat only: a short form asking for the client's name, phone and e-mail."),
    )
    welcome_form_delay = models.BooleanField(
        _("show the form after the client's first message"),
        default=True,
        help_text=_("Off: the form is shown before the conversation starts."),
    )
    ignore_welcome_form_responsible = models.BooleanField(
        _("make the answering agent responsible for the client's CRM record"),
        default=False,
    )
    no_answer_time = models.PositiveIntegerField(
        _("mark enquiry as unanswered in"),
        choices=WAIT_TIME_CHOICES,
        default=60,
    )
    no_answer_rule = models.CharField(
        _("if no agent could respond to the enquiry"),
        max_length=10,
        choices=Rule.choices,
        default=Rule.NONE,
    )
    no_answer_text = models.TextField(_("no-answer reply"), blank=True, default=DefaultText("no_answer"))
    close_rule = models.CharField(
        _("when the agent closes the enquiry"),
        max_length=10,
        choices=Rule.choices,
        default=Rule.TEXT,
    )
    close_text = models.TextField(_("closing message"), blank=True, default=DefaultText("close"))
    full_close_time = models.PositiveIntegerField(
        _("delay until the enquiry is completely closed (minutes)"),
        choices=FULL_CLOSE_TIME_CHOICES,
        default=10,
        help_text=_("After the agent closes it the client can still rate it during this time."),
    )
    auto_close_time = models.PositiveIntegerField(
        _("conversation timeout"),
        choices=AUTO_CLOSE_TIME_CHOICES,
        default=14400,
        help_text=_("Idle time after the agent's last answer before the conversation closes by itself."),
    )
    auto_close_rule = models.CharField(
        _("when the conversation closes by timeout"),
        max_length=10,
        choices=Rule.choices,
        default=Rule.NONE,
    )
    auto_close_text = models.TextField(
        _("timeout closing message"), blank=True, default=DefaultText("auto_close")
    )
    auto_expire_time = models.PositiveIntegerField(
        _("lifetime of an automatically closed conversation (seconds)"), default=86400
    )
    canned_responses = models.ForeignKey(
        CannedResponseList,
        verbose_name=_("canned response list"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lines",
    )
    watch_typing = models.BooleanField(
        _("live typing"),
        default=True,
        help_text=_("Agents see what the client is typing before it is sent."),
    )

    # --- Quality assessment (§1.7) ---
    vote_message = models.BooleanField(
        _("ask the client to rate agent performance"),
        default=True,
    )
    vote_before_finish = models.BooleanField(
        _("allow the client to rate an ongoing conversation"),
        default=True,
    )
    vote_closing_delay = models.BooleanField(
        _("close the conversation when the client rates it"),
        default=False,
        help_text=_("Without waiting for the delay until the enquiry is completely closed."),
    )
    vote_time_limit = models.PositiveIntegerField(
        _("accept ratings for"),
        choices=VOTE_TIME_LIMIT_CHOICES,
        default=0,
        help_text=_("How long after closing a rating is still accepted."),
    )
    vote_message_1_text = models.CharField(
        _("rating request (live chat)"),
        max_length=100,
        blank=True,
        default=DefaultText("vote_message_1_text"),
    )
    vote_message_1_like = models.CharField(
        _("reply to a positive rating (live chat)"),
        max_length=100,
        blank=True,
        default=DefaultText("vote_message_1_like"),
    )
    vote_message_1_dislike = models.CharField(
        _("reply to a negative rating (live chat)"),
        max_length=100,
        blank=True,
        default=DefaultText("vote_message_1_dislike"),
    )
    vote_message_2_text = models.TextField(
        _("rating request (messengers)"),
        blank=True,
        default=DefaultText("vote_message_2_text"),
        help_text=_("The client answers with 1 (good) or 0 (bad); say so in the text."),
    )
    vote_message_2_like = models.TextField(
        _("reply to a positive rating (messengers)"), blank=True, default=DefaultText("vote_message_2_like")
    )
    vote_message_2_dislike = models.TextField(
        _("reply to a negative rating (messengers)"),
        blank=True,
        default=DefaultText("vote_message_2_dislike"),
    )

    # --- Chat bots (§1.8) ---
    welcome_bot_enable = models.BooleanField(
        _("assign a chat bot when a client enquiry is received"),
        default=False,
    )
    welcome_bot = models.ForeignKey(
        ChatBot,
        verbose_name=_("chat bot"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lines",
    )
    welcome_bot_join = models.CharField(
        _("the bot joins"),
        max_length=10,
        choices=WelcomeBotJoin.choices,
        default=WelcomeBotJoin.ALWAYS,
    )
    welcome_bot_time = models.PositiveIntegerField(
        _("transfer conversation from the bot to an agent after"),
        choices=WELCOME_BOT_TIME_CHOICES,
        default=600,
        help_text=_("The client can send 0 to reach an agent earlier."),
    )
    welcome_bot_left = models.CharField(
        _("the bot leaves"),
        max_length=10,
        choices=WelcomeBotLeft.choices,
        default=WelcomeBotLeft.QUEUE,
    )

    # --- Response time KPI (§1.9) ---
    kpi_first_answer_time = models.PositiveIntegerField(
        _("first response time limit (seconds)"),
        default=0,
        help_text=_(
            "Maximum time for the first reply to a new enquiry, e.g. 15, 30, 60 or 120 seconds; "
            "0 turns the check off."
        ),
    )
    kpi_first_answer_alert = models.BooleanField(_("notify when the first response is late"), default=False)
    kpi_first_answer_list = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("notify about late first responses"),
        blank=True,
        related_name="+",
    )
    kpi_first_answer_text = models.TextField(
        _("late first response notification"),
        blank=True,
        default=DefaultText("kpi_first_answer"),
        help_text=_("#OPERATOR# is replaced by the agent, #DIALOG# by a link to the conversation."),
    )
    kpi_further_answer_time = models.PositiveIntegerField(
        _("further response time limit (seconds)"),
        default=0,
        help_text=_(
            "Maximum time for each later reply, e.g. 60, 300, 600 or 900 seconds; 0 turns the check off."
        ),
    )
    kpi_further_answer_alert = models.BooleanField(_("notify when a further response is late"), default=False)
    kpi_further_answer_list = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("notify about late further responses"),
        blank=True,
        related_name="+",
    )
    kpi_further_answer_text = models.TextField(
        _("late further response notification"),
        blank=True,
        default=DefaultText("kpi_further_answer"),
        help_text=_("#OPERATOR# is replaced by the agent, #DIALOG# by a link to the conversation."),
    )
    kpi_check_operator_activity = models.BooleanField(
        _("stop the timer while the agent is unavailable"),
        default=False,
        help_text=_("KPI timers pause while the agent's work day is paused or ended."),
    )

    # --- Other (§1.10) ---
    line_name = models.CharField(
        _("name"), max_length=255, help_text=_("Shown to clients in the chat header.")
    )
    active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_(
            "An inactive line keeps its history; new enquiries get the line-not-active reply "
            "and are closed at once."
        ),
    )
    confirm_close = models.BooleanField(
        _("ask agents to confirm before closing a conversation"), default=False
    )
    mail_from = models.EmailField(
        _("sender of e-mails to clients"),
        blank=True,
        help_text=_(
            "The address transcripts are sent from, under the line's name; empty: the site's default sender."
        ),
    )
    language_id = models.CharField(
        _("language"),
        max_length=2,
        choices=[(code, name) for code, name in settings.LANGUAGES],
        default=default_language,
        help_text=_("Language of the automatic texts and of e-mails and history sent to the client."),
    )

    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    modified_at = models.DateTimeField(_("modified at"), auto_now=True)
    modified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("modified by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("open line")
        verbose_name_plural = _("open lines")
        ordering = ["line_name", "id"]

    def __str__(self) -> str:
        return self.line_name or f"#{self.pk}"

    def client_text(self, key: str) -> str:
        """The line's text for `key` (a field-backed text or a system message) in the line's language.

        Field-backed texts fall back to the default when left empty, so the engine never sends a blank.
        """
        field = TEXT_FIELDS.get(key)
        value: Any = getattr(self, field) if field else ""
        return str(value) if value else default_text(key, self.language_id)


# default_texts key -> OpenLine field holding the line's editable copy of it.
TEXT_FIELDS: dict[str, str] = {
    "welcome": "welcome_message_text",
    "no_answer": "no_answer_text",
    "worktime_dayoff": "worktime_dayoff_text",
    "close": "close_text",
    "auto_close": "auto_close_text",
    "vote_message_1_text": "vote_message_1_text",
    "vote_message_1_like": "vote_message_1_like",
    "vote_message_1_dislike": "vote_message_1_dislike",
    "vote_message_2_text": "vote_message_2_text",
    "vote_message_2_like": "vote_message_2_like",
    "vote_message_2_dislike": "vote_message_2_dislike",
    "kpi_first_answer": "kpi_first_answer_text",
    "kpi_further_answer": "kpi_further_answer_text",
}


class QueueMember(models.Model):
    """One entry of a line's agent queue: a user, or a whole department whose members follow it."""

    line = models.ForeignKey(OpenLine, verbose_name=_("line"), on_delete=models.CASCADE, related_name="queue")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="openline_queue_entries",
    )
    department = models.ForeignKey(
        "contactcenter.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="openline_queue_entries",
    )
    sort = models.PositiveIntegerField(_("order"), default=0)
    exclude_heads = models.BooleanField(
        _("exclude department heads"),
        default=False,
        help_text=_(
            "Department entries only: heads of the department and its sub-departments get no enquiries."
        ),
    )
    display_name = models.CharField(
        _("name shown to clients"),
        max_length=255,
        blank=True,
        help_text=_("Used when the line shows queue entries' agent information."),
    )
    work_position = models.CharField(_("position shown to clients"), max_length=255, blank=True)
    avatar = models.ImageField(_("photo shown to clients"), upload_to="openlines/queue/", blank=True)

    class Meta:
        verbose_name = _("queue entry")
        verbose_name_plural = _("queue")
        ordering = ["sort", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(department__isnull=True))
                | (Q(user__isnull=True) & Q(department__isnull=False)),
                name="queue_member_user_xor_department",
                violation_error_message=_("Choose either a user or a department."),
            ),
            models.UniqueConstraint(
                fields=["line", "user"],
                condition=Q(user__isnull=False),
                name="queue_member_unique_user",
                violation_error_message=_("This user is already in the queue."),
            ),
            models.UniqueConstraint(
                fields=["line", "department"],
                condition=Q(department__isnull=False),
                name="queue_member_unique_department",
                violation_error_message=_("This department is already in the queue."),
            ),
        ]

    def __str__(self) -> str:
        return str(self.user or self.department)


from openlines.session_models import *  # noqa: E402, F403  (conversations live in their own module)
