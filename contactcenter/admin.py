from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from contactcenter.models import Absence, Department, EmployeeProfile, Presence, WorkDay, WorkDayEvent
from contactcenter.services.availability import user_dismiss, user_reinstate
from contactcenter.version import VERSION

User = get_user_model()


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "parent", "head", "sort"]
    list_filter = ["parent"]
    search_fields = ["name", "head__username", "head__first_name", "head__last_name"]
    autocomplete_fields = ["parent", "head"]


class EmployeeProfileInline(admin.StackedInline):
    model = EmployeeProfile
    can_delete = False
    filter_horizontal = ["departments"]
    verbose_name_plural = _("employee profile")


class AbsenceInline(admin.TabularInline):
    model = Absence
    extra = 0


@admin.action(description=_("Dismiss the selected employees"))
def dismiss(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    for user in queryset:
        user_dismiss(user_id=user.pk)
    modeladmin.message_user(request, _("Dismissed %(count)d employees.") % {"count": len(queryset)})


@admin.action(description=_("Reinstate the selected employees"))
def reinstate(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
    for user in queryset:
        user_reinstate(user_id=user.pk)
    modeladmin.message_user(request, _("Reinstated %(count)d employees.") % {"count": len(queryset)})


admin.site.unregister(User)


@admin.register(User)
class EmployeeAdmin(UserAdmin):
    inlines = [EmployeeProfileInline, AbsenceInline]
    list_display = ["username", "first_name", "last_name", "email", "is_active", "is_staff"]
    list_filter = [
        "is_active",
        "is_staff",
        "is_superuser",
        "profile__departments",
        "profile__uses_time_tracking",
    ]
    actions = [dismiss, reinstate]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Unticking "Active" is a dismissal like the list action: routing must hear of it (recall, §4.6).
        if change and "is_active" in form.changed_data:
            (user_reinstate if obj.is_active else user_dismiss)(user_id=obj.pk)


@admin.register(EmployeeProfile)
class EmployeeProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "display_name", "work_position", "uses_time_tracking", "openlines_paused"]
    list_filter = ["departments", "uses_time_tracking", "openlines_paused"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "display_name", "work_position"]
    filter_horizontal = ["departments"]
    autocomplete_fields = ["user"]


class OngoingFilter(admin.SimpleListFilter):
    title = _("when")
    parameter_name = "when"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("now", str(_("Today"))), ("future", str(_("Upcoming"))), ("past", str(_("Ended")))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        today = timezone.localdate()
        if self.value() == "now":
            return queryset.filter(date_from__lte=today, date_to__gte=today)
        if self.value() == "future":
            return queryset.filter(date_from__gt=today)
        if self.value() == "past":
            return queryset.filter(date_to__lt=today)
        return queryset


@admin.register(Absence)
class AbsenceAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "date_from", "date_to", "note"]
    list_filter = [OngoingFilter, "kind"]
    search_fields = ["user__username", "user__first_name", "user__last_name", "note"]
    date_hierarchy = "date_from"
    autocomplete_fields = ["user"]


class WorkDayEventInline(admin.TabularInline):
    model = WorkDayEvent
    extra = 0


@admin.register(WorkDay)
class WorkDayAdmin(admin.ModelAdmin):
    list_display = ["user", "state", "started_at", "ended_at"]
    list_filter = ["state", "started_at"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    date_hierarchy = "started_at"
    inlines = [WorkDayEventInline]
    autocomplete_fields = ["user"]


@admin.register(Presence)
class PresenceAdmin(admin.ModelAdmin):
    list_display = ["user", "connections", "last_seen"]
    search_fields = ["user__username"]
    readonly_fields = ["user", "connections", "last_seen"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


admin.site.site_header = format_lazy(
    "{} · {} {}", _("Contact center administration"), _("version"), VERSION
)
admin.site.site_title = _("Contact center")

from contactcenter import admin_access  # noqa: E402, F401  (access roles and API tokens)
from contactcenter.connectors import admin as connectors_admin  # noqa: E402, F401
