"""Admin pages for access roles and personal API tokens (registered from contactcenter.admin)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from contactcenter.models import ApiToken, Role, RoleAssignment
from contactcenter.permissions import (
    PERMISSION_MATRIX,
    Action,
    Area,
    RoleScopedAdminMixin,
    RoleScopedInlineMixin,
)
from contactcenter.services.api_tokens import api_token_create, api_token_revoke
from contactcenter.services.roles import role_levels_set


def _level_field_name(area: Area, action: Action) -> str:
    return f"level__{area.value}__{action.value}"


def _level_fields() -> dict[str, forms.Field]:
    """One choice per area/action, offering only the levels that area allows (reference §7)."""
    return {
        _level_field_name(area, action): forms.TypedChoiceField(
            label=f"{area.label} — {action.label}",
            choices=[(level.value, level.label) for level in allowed],
            coerce=int,
            initial=allowed[0].value,
        )
        for (area, action), allowed in PERMISSION_MATRIX.items()
    }


class _RoleFormBase(forms.ModelForm):
    class Meta:
        model = Role
        fields = ["name", "description"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            for permission in self.instance.permissions.all():
                name = f"level__{permission.area}__{permission.action}"
                if name in self.fields:
                    self.initial[name] = permission.level

    def levels(self) -> dict[tuple[str, str], int]:
        return {
            (area.value, action.value): self.cleaned_data[_level_field_name(area, action)]
            for (area, action) in PERMISSION_MATRIX
        }


# The level fields are declared on the class (not added in __init__) so that the admin accepts them.
RoleForm = type("RoleForm", (_RoleFormBase,), _level_fields())


class RoleAssignmentInline(RoleScopedInlineMixin, admin.TabularInline):
    model = RoleAssignment
    extra = 0
    fields = ["user", "department", "include_subdepartments", "all_employees"]
    permission_area = Area.SETTINGS
    view_action = Action.MODIFY
    modify_action = Action.MODIFY


@admin.register(Role)
class RoleAdmin(RoleScopedAdminMixin, admin.ModelAdmin):
    """Editing roles is a common setting (reference: SETTINGS / "Common parameters")."""

    form = RoleForm
    inlines = [RoleAssignmentInline]
    list_display = ["name", "levels_summary", "assigned_to"]
    search_fields = ["name"]
    permission_area = Area.SETTINGS
    view_action = Action.MODIFY
    modify_action = Action.MODIFY

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        level_fields = [_level_field_name(area, action) for (area, action) in PERMISSION_MATRIX]
        return [
            (None, {"fields": ["name", "description"]}),
            (_("Access levels (apply to all lines)"), {"fields": level_fields}),
        ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).prefetch_related("permissions", "assignments")

    def save_model(self, request: HttpRequest, obj: Role, form: forms.ModelForm, change: bool) -> None:
        super().save_model(request, obj, form, change)
        assert isinstance(form, _RoleFormBase)
        role_levels_set(role=obj, levels=form.levels())

    @admin.display(description=_("levels"))
    def levels_summary(self, obj: Role) -> str:
        stored = {(p.area, p.action): p for p in obj.permissions.all()}
        rows = [
            (f"{area.label} ({action.label})", stored[(area.value, action.value)].get_level_display())
            for (area, action) in PERMISSION_MATRIX
            if (area.value, action.value) in stored
        ]
        return format_html_join("", "<div>{}: {}</div>", rows)

    @admin.display(description=_("assigned to"))
    def assigned_to(self, obj: Role) -> str:
        return ", ".join(str(a).split(" → ", 1)[1] for a in obj.assignments.all()) or "—"


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["user", "name"]


@admin.action(description=_("Revoke the selected tokens"))
def revoke_tokens(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
    for token in queryset:
        api_token_revoke(token=token)
    modeladmin.message_user(request, _("Revoked %(count)d tokens.") % {"count": len(queryset)})


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Every staff member manages their own tokens; superusers see everyone's."""

    form = ApiTokenForm
    list_display = ["name", "user", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "user__username"]
    actions = [revoke_tokens]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]

    def _is_staff(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def _owns(self, request: HttpRequest, obj: ApiToken | None) -> bool:
        if not self._is_staff(request):
            return False
        return obj is None or request.user.is_superuser or obj.user_id == request.user.pk

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._is_staff(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._owns(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._is_staff(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._owns(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._owns(request, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiToken]:
        queryset = super().get_queryset(request).select_related("user")
        return queryset if request.user.is_superuser else queryset.filter(user_id=request.user.pk)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["user", "name"] if request.user.is_superuser else ["name"]
        return fields if obj is None else [*fields, "prefix", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*self.readonly_fields, "user"] if obj is not None else []

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if not request.user.is_superuser:
            kwargs["fields"] = ["name"]
        return super().get_form(request, obj, change, **kwargs)

    def save_model(self, request: HttpRequest, obj: ApiToken, form: forms.ModelForm, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        owner = form.cleaned_data.get("user") if request.user.is_superuser else None
        token, key = api_token_create(user=cast(AbstractBaseUser, owner or request.user), name=obj.name)
        # The admin continues with `obj` (log entry, redirect), so it becomes the stored token.
        obj.pk, obj.user, obj.prefix, obj.key_hash = token.pk, token.user, token.prefix, token.key_hash
        obj.created_at = token.created_at
        obj._state.adding = False
        messages.warning(
            request,
            _("The token's key is shown only this once; copy it now: %(key)s") % {"key": key},
        )
