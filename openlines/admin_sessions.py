"""Read-only admin pages of conversations and clients: a place to look things up, never to edit them
(conversations change only through the engine's actions)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from openlines.selectors import SESSION_READ_PERMISSIONS, sessions_visible_to
from openlines.services.actions import session_can_view
from openlines.session_models import Client, Message, Session, TranscriptMail


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MessageInline(admin.TabularInline):
    model = Message
    fields = ("created_at", "author_type", "author", "text", "internal", "delivery")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Asked with the conversation, and without one for the rows' queryset: the page itself is reached
        # only through the conversation admin's scoped queryset.
        if obj is None:
            return bool(request.user.is_active and request.user.is_staff)
        return session_can_view(request.user, obj)


class TranscriptMailInline(MessageInline):
    """The transcript e-mails of the conversation: whether they went out, and why not."""

    model = TranscriptMail  # type: ignore[assignment]
    fields = ("created_at", "reason", "to", "status", "attempts", "sent_at", "last_error")  # type: ignore[assignment]
    readonly_fields = fields  # type: ignore[assignment]


class SessionAdmin(ReadOnlyAdmin):
    list_display = ("id", "client_name", "line", "status", "operator", "created_at", "closed")
    list_filter = ("closed", "status", "line")
    search_fields = ("chat__client__name", "chat__client__email", "chat__client__phone")
    list_select_related = ("chat__client", "line", "operator")
    inlines = [MessageInline, TranscriptMailInline]

    # Conversations follow the access roles, as in the workspace, the API and the chat list (reference
    # §7): every staff member reads their own, the history and join levels add others'. Django's model
    # permissions play no part, or a "view session" permission would open every conversation.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return self.has_module_permission(request)
        return session_can_view(request.user, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        return sessions_visible_to(
            user=request.user, queryset=super().get_queryset(request), permissions=SESSION_READ_PERMISSIONS
        )

    @admin.display(description=Client._meta.verbose_name)
    def client_name(self, obj: Session) -> str:
        return str(obj.chat.client)


class ClientAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "email", "phone", "connector", "consent_at", "created_at")
    search_fields = ("name", "email", "phone", "external_id")
    exclude = ("extra",)


# Another app (the chat list) may register richer pages for these models; it wins.
if not admin.site.is_registered(Session):
    admin.site.register(Session, SessionAdmin)
if not admin.site.is_registered(Client):
    admin.site.register(Client, ClientAdmin)
