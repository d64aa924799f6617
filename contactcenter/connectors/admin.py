"""Admin list of connectors; connecting, editing and disconnecting happen on the Contact Center page.

Only a connector without clients can be deleted here (so that deleting a line without history takes its
unused connectors along): the clients' history protects the others (the admin lists what protects them),
which are disconnected on the Contact Center page instead.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from contactcenter.models import Connector
from contactcenter.permissions import Action, Area, RoleScopedAdminMixin, can


@admin.register(Connector)
class ConnectorAdmin(RoleScopedAdminMixin, admin.ModelAdmin):
    permission_area = Area.CONNECTORS
    view_action = Action.VIEW
    modify_action = Action.MODIFY
    list_display = ["name", "kind", "account_id", "line", "active", "disconnected_at", "created_at"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "account_id", "line__line_name"]
    fields = ["uuid", "kind", "name", "account_id", "line", "active", "disconnected_at", "created_at"]
    readonly_fields = [
        "uuid", "kind", "name", "account_id", "line", "active", "disconnected_at", "created_at"
    ]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("line")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_list_display(self, request: HttpRequest) -> Any:
        user = request.user

        @admin.display(description=_("manage"))
        def manage(obj: Connector) -> str:
            if not can(user, Area.CONNECTORS, Action.MODIFY, obj):
                return "—"
            url = reverse("contactcenter:connector_edit", args=[obj.pk])
            return format_html('<a href="{}">{}</a>', url, _("Edit"))

        return [*self.list_display, manage]
