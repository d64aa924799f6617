"""Admin for open lines: the tabbed settings form, the queue inline, agreements, canned responses, bots."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.actions import delete_selected
from django.db import models
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from contactcenter.permissions import Area, RoleScopedAdminMixin, RoleScopedInlineMixin
from openlines.default_texts import LANGUAGE_CODES, default_texts_for
from openlines.forms import (
    TABS,
    CannedResponseFormSet,
    ChatBotForm,
    OpenLineForm,
    QueueMemberForm,
    QueueMemberFormSet,
    admin_fieldsets,
)
from openlines.models import (
    TEXT_FIELDS,
    Agreement,
    CannedResponse,
    CannedResponseList,
    ChatBot,
    OpenLine,
    QueueMember,
)
from openlines.selectors import line_channel_names, line_deletion_summary, line_queue_user_ids
from openlines.services.agreements import agreement_revise
from openlines.services.lines import line_delete, line_save
from openlines.validation import VISIBILITY


def deletion_sentence(summary: dict[str, int]) -> str:
    if summary.get("protected"):
        return _(
            "A line with conversation history cannot be deleted: it has %(conversations)s with "
            "%(messages)s (counting those of its channels' clients), and history is never deleted with a "
            "line. Switch the line off instead, or disconnect its channels."
        ) % _history_counts(summary)
    return _("%(conversations)s and %(messages)s will be deleted.") % _history_counts(summary)


def _history_counts(summary: dict[str, int]) -> dict[str, str]:
    conversations = ngettext(
        "%(count)d conversation", "%(count)d conversations", summary["conversations"]
    ) % {"count": summary["conversations"]}
    messages = ngettext("%(count)d message", "%(count)d messages", summary["messages"]) % {
        "count": summary["messages"]
    }
    return {"conversations": conversations, "messages": messages}


class QueueMemberInline(RoleScopedInlineMixin, admin.TabularInline):
    permission_area = Area.LINES
    model = QueueMember
    form = QueueMemberForm
    formset = QueueMemberFormSet
    extra = 1
    autocomplete_fields = ["user", "department"]
    fields = ["user", "department", "exclude_heads", "sort", "display_name", "work_position", "avatar"]
    verbose_name = gettext_lazy("queue entry")
    verbose_name_plural = gettext_lazy("Agent queue")


@admin.action(description=gettext_lazy("Delete selected lines (only lines without conversation history)"))
def delete_lines(modeladmin: OpenLineAdmin, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
    response = delete_selected(modeladmin, request, queryset)
    if isinstance(response, TemplateResponse) and response.context_data is not None:
        total = {"conversations": 0, "messages": 0, "protected": 0}
        for line in queryset:
            summary = line_deletion_summary(line)
            for key in total:
                total[key] += summary[key]
        response.context_data["line_deletion_sentence"] = deletion_sentence(total)
        response.context_data["line_deletion_protected"] = bool(total["protected"])
    return response


@admin.register(OpenLine)
class OpenLineAdmin(RoleScopedAdminMixin, admin.ModelAdmin):
    permission_area = Area.LINES  # access roles decide who sees and edits which line
    form = OpenLineForm
    inlines = [QueueMemberInline]
    fieldsets = admin_fieldsets()
    list_display = ["line_name", "active", "channels", "queue_size", "queue_type"]
    list_filter = ["active", "queue_type"]
    search_fields = ["line_name", "code"]
    autocomplete_fields = ["kpi_first_answer_list", "kpi_further_answer_list"]
    actions = [delete_lines]
    delete_selected_confirmation_template = "admin/openlines/openline/delete_selected_confirmation.html"

    class Media:
        css = {"all": ["openlines/admin/line_form.css"]}
        js = ["openlines/admin/line_form.js"]

    @admin.display(description=gettext_lazy("channels"))
    def channels(self, line: OpenLine) -> str:
        return ", ".join(line_channel_names(line=line)) or "—"

    @admin.display(description=gettext_lazy("queue size"))
    def queue_size(self, line: OpenLine) -> int:
        return len(line_queue_user_ids(line=line))

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: OpenLine | None = None,
    ) -> HttpResponse:
        context["line_form_config"] = {
            "tabs": [{"id": tab, "title": str(title)} for tab, title, _blocks in TABS],
            "tabsLabel": _("Line settings"),
            "visibility": VISIBILITY,
            "inlineVisibility": {
                name: [{"operator_data": ["queue"]}] for name in ("display_name", "work_position", "avatar")
            },
            "textFields": TEXT_FIELDS,
            "defaultTexts": {code: default_texts_for(code) for code in LANGUAGE_CODES},
        }
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request: HttpRequest, obj: OpenLine, form: ModelForm, change: bool) -> None:
        line_save(line=obj, old_language=getattr(form, "original_language", None), by=request.user)

    def delete_model(self, request: HttpRequest, obj: OpenLine) -> None:
        line_delete(line=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for line in queryset:
            line_delete(line=line)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> Any:
        response = super().delete_view(request, object_id, extra_context)
        if isinstance(response, TemplateResponse) and response.context_data is not None:
            line = response.context_data.get("object")
            if isinstance(line, OpenLine):
                summary = line_deletion_summary(line)
                response.context_data["line_deletion_sentence"] = deletion_sentence(summary)
                response.context_data["line_deletion_protected"] = bool(summary["protected"])
        return response


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = ["title", "version", "is_current", "created_at"]
    search_fields = ["title", "text"]
    readonly_fields = ["version", "previous", "created_at"]
    fields = ["title", "text", "version", "previous", "created_at"]

    @admin.display(boolean=True, description=gettext_lazy("current version"))
    def is_current(self, agreement: Agreement) -> bool:
        return agreement.is_current

    def has_change_permission(self, request: HttpRequest, obj: Agreement | None = None) -> bool:
        # Older versions are a record of what clients accepted; only the current one can be revised.
        if obj is not None and not obj.is_current:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: Agreement, form: ModelForm, change: bool) -> None:
        agreement_revise(agreement=obj)


class CannedResponseInline(admin.TabularInline):
    model = CannedResponse
    formset = CannedResponseFormSet
    extra = 1
    fields = ["title", "text", "shortcut", "sort"]


@admin.register(CannedResponseList)
class CannedResponseListAdmin(admin.ModelAdmin):
    list_display = ["title", "response_count", "created_at"]
    search_fields = ["title", "responses__title", "responses__shortcut"]
    inlines = [CannedResponseInline]

    @admin.display(description=gettext_lazy("responses"))
    def response_count(self, response_list: CannedResponseList) -> int:
        return response_list.responses.count()


@admin.register(ChatBot)
class ChatBotAdmin(admin.ModelAdmin):
    form = ChatBotForm
    list_display = ["name", "kind", "active", "created_at"]
    list_filter = ["kind", "active"]
    search_fields = ["name"]

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if isinstance(db_field, models.URLField):
            kwargs["assume_scheme"] = "https"
        return super().formfield_for_dbfield(db_field, request, **kwargs)


from openlines import admin_sessions  # noqa: E402, F401  (read-only conversation pages)
