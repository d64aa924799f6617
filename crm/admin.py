"""Admin pages of the CRM: records with their communications and conversations, reference data, and
the activity of each conversation with its message log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.communications import email_normalize, phone_normalize
from crm.models import (
    Activity,
    Communication,
    Company,
    Contact,
    Deal,
    Lead,
    LeadStatus,
    Pipeline,
    Record,
    SessionCrmBinding,
    Source,
    Stage,
)
from crm.selectors import activity_message_log, binding_records, record_conversations


class CommunicationInline(admin.TabularInline):
    model = Communication
    extra = 1
    fields = ["kind", "value", "value_type"]
    verbose_name_plural = gettext_lazy("Phones, e-mails, messengers and web sites")


def conversations_table(record: Record) -> SafeString:
    rows = record_conversations(record)
    if not rows:
        return format_html("<p>{}</p>", _("No conversations yet."))
    body = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                format_html('<a href="{}">#{}</a>', row["url"], row["session_id"])
                if row["url"]
                else f"#{row['session_id']}",
                row["created_at"].strftime("%Y-%m-%d %H:%M"),
                row["line"],
                row["channel"],
                row["client"],
                row["status"],
            )
            for row in rows
        ),
    )
    header = format_html(
        "<tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>",
        _("Conversation"),
        _("Started"),
        _("Open line"),
        _("Channel"),
        _("Client"),
        _("Status"),
    )
    return format_html('<table class="crm-conversations">{}{}</table>', header, body)


RECORD_FILTERS: list[Any] = ["responsible", "source", ("created_at", admin.DateFieldListFilter)]


class RecordAdmin(admin.ModelAdmin):
    """Search also finds a record by a phone written any way (it is normalised like stored numbers)."""

    readonly_fields = ["conversations", "origin_session_id", "created_at", "modified_at"]
    list_filter = RECORD_FILTERS
    autocomplete_fields = ["responsible"]
    list_select_related = ["responsible", "source"]

    @admin.display(description=gettext_lazy("Conversations"))
    def conversations(self, obj: Record) -> SafeString:
        if obj.pk is None:
            return format_html("<p>{}</p>", _("No conversations yet."))
        return conversations_table(obj)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        normalised = [v for v in (phone_normalize(term), email_normalize(term)) if v]
        if normalised and hasattr(self.model, "communications"):
            results = results | queryset.filter(communications__value__in=normalised)
            may_have_duplicates = True
        return results, may_have_duplicates


@admin.register(Contact)
class ContactAdmin(RecordAdmin):
    inlines = [CommunicationInline]
    list_display = ["name", "company", "responsible", "source", "created_at"]
    search_fields = ["name", "company__title", "communications__value"]
    autocomplete_fields = ["responsible", "company"]
    fields = ["name", "company", "responsible", "source", "comments", *RecordAdmin.readonly_fields]


@admin.register(Company)
class CompanyAdmin(RecordAdmin):
    inlines = [CommunicationInline]
    list_display = ["title", "responsible", "source", "created_at"]
    search_fields = ["title", "communications__value"]
    fields = ["title", "responsible", "source", "comments", *RecordAdmin.readonly_fields]


@admin.register(Lead)
class LeadAdmin(RecordAdmin):
    inlines = [CommunicationInline]
    list_display = ["title", "name", "status", "responsible", "source", "created_at"]
    list_filter = ["status", *RECORD_FILTERS]
    search_fields = ["title", "name", "company_title", "communications__value"]
    autocomplete_fields = ["responsible", "contact", "company"]
    list_select_related = ["status", "responsible", "source"]
    fields = [
        "title",
        "name",
        "company_title",
        "status",
        "responsible",
        "source",
        "contact",
        "company",
        "comments",
        *RecordAdmin.readonly_fields,
    ]


@admin.register(Deal)
class DealAdmin(RecordAdmin):
    list_display = ["title", "pipeline", "stage", "contact", "responsible", "source", "created_at"]
    list_filter = ["pipeline", "stage", *RECORD_FILTERS]
    search_fields = ["title", "contact__name", "company__title", "contact__communications__value"]
    autocomplete_fields = ["responsible", "contact", "company"]
    list_select_related = ["pipeline", "stage", "contact", "responsible", "source"]
    fields = [
        "title",
        "pipeline",
        "stage",
        "contact",
        "company",
        "responsible",
        "source",
        "comments",
        *RecordAdmin.readonly_fields,
    ]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        normalised = [v for v in (phone_normalize(search_term), email_normalize(search_term)) if v]
        if normalised:
            results = results | queryset.filter(
                Q(contact__communications__value__in=normalised)
                | Q(company__communications__value__in=normalised)
            )
            may_have_duplicates = True
        return results, may_have_duplicates


class StageInline(admin.TabularInline):
    model = Stage
    extra = 1
    fields = ["name", "sort", "semantics"]


@admin.register(Pipeline)
class PipelineAdmin(admin.ModelAdmin):
    inlines = [StageInline]
    list_display = ["name", "is_default", "sort"]
    search_fields = ["name"]


@admin.register(LeadStatus)
class LeadStatusAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "semantics", "sort"]
    list_filter = ["semantics"]
    search_fields = ["name", "code"]


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "line", "channel", "sort"]
    list_filter = ["channel"]
    search_fields = ["name", "code"]


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["subject", "responsible", "created_at", "answered_at", "completed_at"]
    list_filter = [
        ("answered_at", admin.EmptyFieldListFilter),
        ("completed_at", admin.EmptyFieldListFilter),
        "responsible",
        "session__line",
    ]
    search_fields = ["subject", "session__chat__client__name"]
    list_select_related = ["responsible"]
    fields = ["subject", "responsible", "created_at", "answered_at", "completed_at", "records", "message_log"]
    readonly_fields = ["created_at", "answered_at", "completed_at", "records", "message_log"]
    autocomplete_fields = ["responsible"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # activities come from conversations

    @admin.display(description=gettext_lazy("Linked records"))
    def records(self, obj: Activity) -> SafeString:
        binding = SessionCrmBinding.objects.filter(session_id=obj.session_id).first()
        records = binding_records(binding)
        if not records:
            return format_html("<p>{}</p>", _("Not linked to the CRM."))
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                '<li>{}: <a href="{}">{}</a></li>',
                ((str(r._meta.verbose_name).capitalize(), r.admin_url(), str(r)) for r in records),
            ),
        )

    @admin.display(description=gettext_lazy("Messages"))
    def message_log(self, obj: Activity) -> SafeString:
        rows = activity_message_log(obj.session)
        if not rows:
            return format_html("<p>{}</p>", _("No messages."))
        return format_html(
            '<ol class="crm-message-log">{}</ol>',
            format_html_join(
                "",
                '<li data-author="{}"><time>{}</time> <strong>{}</strong>: '
                '<span style="white-space: pre-wrap">{}</span></li>',
                (
                    (
                        row["author_type"],
                        row["created_at"].strftime("%Y-%m-%d %H:%M:%S"),
                        row["author"],
                        row["text"],
                    )
                    for row in rows
                ),
            ),
        )
