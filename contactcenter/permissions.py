"""Who may do what: access roles (reference §7) and the one permission check, `can()`.

Roles hold a level per area/action: none, own ("A"), own + department ("D") or any ("X"). A user's
effective level is the maximum over the roles given to them, to the departments they belong to, and to
all employees; superusers have everything. For an object, "own" means one of its owners is the user
and "department" that one of its owners is the user or a department colleague. Owners of an open line
are the agents of its queue and the user who last modified it; a connector has the owners of its line.
Objects of later areas (sessions, statistics) take part by exposing `owner_user_ids()` (`HasOwners`).

The rules are described for administrators in docs/permissions.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, cast, runtime_checkable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Max, Model, Q, QuerySet
from django.http import HttpRequest

from contactcenter.models import (
    AccessAction,
    AccessArea,
    AccessLevel,
    Department,
    EmployeeProfile,
    RoleAssignment,
    RolePermission,
)
from contactcenter.selectors import department_member_ids

if TYPE_CHECKING:
    from openlines.models import OpenLine

Area = AccessArea
Action = AccessAction
Level = AccessLevel

AnyUser = AbstractBaseUser | AnonymousUser
M = TypeVar("M", bound=Model)

_ALL = (Level.NONE, Level.OWN, Level.DEPARTMENT, Level.ANY)

# Which levels each area/action accepts (reference §7, SRC security/permissions.php).
PERMISSION_MATRIX: dict[tuple[Area, Action], tuple[Level, ...]] = {
    (Area.LINES, Action.VIEW): _ALL,
    (Area.LINES, Action.MODIFY): _ALL,
    (Area.CONNECTORS, Action.MODIFY): _ALL,
    (Area.STATISTICS, Action.VIEW): _ALL,
    (Area.HISTORY, Action.VIEW): _ALL,
    (Area.JOIN, Action.PERFORM): (Level.OWN, Level.DEPARTMENT, Level.ANY),
    (Area.VOTE_HEAD, Action.PERFORM): (Level.NONE, Level.DEPARTMENT, Level.ANY),
    (Area.SETTINGS, Action.MODIFY): (Level.NONE, Level.ANY),
}

# Checks that no role stores directly: their level is the best of the listed stored ones. Whoever may
# modify a line may also see it, and connectors are visible to whoever sees their line.
DERIVED_PERMISSIONS: dict[tuple[Area, Action], tuple[tuple[Area, Action], ...]] = {
    (Area.LINES, Action.VIEW): ((Area.LINES, Action.VIEW), (Area.LINES, Action.MODIFY)),
    (Area.CONNECTORS, Action.VIEW): ((Area.LINES, Action.VIEW), (Area.CONNECTORS, Action.MODIFY)),
}


@runtime_checkable
class HasOwners(Protocol):
    """Anything access can be scoped to: it names the users it belongs to."""

    def owner_user_ids(self) -> set[int]: ...


def allowed_levels(area: str, action: str) -> tuple[Level, ...]:
    try:
        return PERMISSION_MATRIX[(Area(area), Action(action))]
    except (KeyError, ValueError):
        raise ValueError(f"Unknown permission {area}.{action}") from None


def level_normalize(*, area: str, action: str, level: int) -> Level:
    """The highest level the area allows that does not exceed `level` (at least the area's minimum)."""
    allowed = allowed_levels(area, action)
    fitting = [candidate for candidate in allowed if candidate <= level]
    return max(fitting) if fitting else allowed[0]


# --- Effective levels ---------------------------------------------------------------------------


def _is_superuser(user: AnyUser) -> bool:
    return bool(getattr(user, "is_superuser", False)) and bool(user.is_active)


def user_department_ids(*, user: AnyUser) -> set[int]:
    """Departments the user is a direct member of."""
    if not user.is_authenticated:
        return set()
    return set(Department.objects.filter(members__user_id=user.pk).values_list("pk", flat=True))


def _with_ancestors(department_ids: set[int]) -> set[int]:
    ids = set(department_ids)
    frontier = set(department_ids)
    while frontier:
        frontier = (
            set(
                Department.objects.filter(pk__in=frontier, parent__isnull=False).values_list(
                    "parent_id", flat=True
                )
            )
            - ids
        )
        ids |= frontier
    return ids


def user_role_ids(*, user: AnyUser) -> set[int]:
    """Roles given to the user directly, through their departments, or to all employees."""
    if not user.is_authenticated:
        return set()
    direct = user_department_ids(user=user)
    inherited = _with_ancestors(direct) - direct
    targets = (
        Q(user_id=user.pk)
        | Q(all_employees=True)
        | Q(department_id__in=direct)
        | Q(department_id__in=inherited, include_subdepartments=True)
    )
    return set(RoleAssignment.objects.filter(targets).values_list("role_id", flat=True))


def user_stored_levels(*, user: AnyUser) -> dict[tuple[Area, Action], Level]:
    """The user's effective level for every stored area/action (maximum over their roles)."""
    cached: dict[tuple[Area, Action], Level] | None = getattr(user, "_cc_access_levels", None)
    if cached is not None:
        return cached
    best: dict[tuple[Area, Action], int] = {}
    role_ids = user_role_ids(user=user)
    if role_ids:
        rows = (
            RolePermission.objects.filter(role_id__in=role_ids)
            .values("area", "action")
            .annotate(best=Max("level"))
        )
        for row in rows:
            try:
                key = (Area(row["area"]), Action(row["action"]))
            except ValueError:
                continue
            if key in PERMISSION_MATRIX:
                best[key] = row["best"]
    levels = {
        key: level_normalize(area=key[0], action=key[1], level=best.get(key, Level.NONE))
        for key in PERMISSION_MATRIX
    }
    # Computed once per user object, i.e. once per request.
    user.__dict__["_cc_access_levels"] = levels
    return levels


def user_access_level(*, user: AnyUser, area: str, action: str) -> Level:
    """The user's effective level for one area/action, derived checks included."""
    key = (Area(area), Action(action))
    if not user.is_authenticated or not user.is_active:
        return Level.NONE
    if _is_superuser(user):
        return Level.ANY
    levels = user_stored_levels(user=user)
    sources = DERIVED_PERMISSIONS.get(key, (key,))
    for source in sources:
        if source not in PERMISSION_MATRIX:
            raise ValueError(f"Unknown permission {area}.{action}")
    return max(levels[source] for source in sources)


def user_colleague_ids(*, user: AnyUser) -> set[int]:
    """The user and everyone sharing a department with them; heads also see their whole subtree."""
    if not user.is_authenticated:
        return set()
    cached: set[int] | None = getattr(user, "_cc_colleague_ids", None)
    if cached is not None:
        return cached
    colleagues = {cast(int, user.pk)}
    direct = user_department_ids(user=user)
    colleagues |= set(
        EmployeeProfile.objects.filter(departments__in=direct).values_list("user_id", flat=True)
    )
    for department in Department.objects.filter(head_id=user.pk):
        colleagues |= department_member_ids(department=department, include_subdepartments=True)
    user.__dict__["_cc_colleague_ids"] = colleagues
    return colleagues


# --- Owners of objects --------------------------------------------------------------------------


def line_owner_user_ids(*, line: OpenLine) -> set[int]:
    """An open line belongs to the agents of its queue and to whoever last modified it (reference §7)."""
    from openlines.selectors import line_queue_user_ids

    owners = set(line_queue_user_ids(line=line))
    if line.modified_by_id:
        owners.add(line.modified_by_id)
    return owners


def owner_user_ids(obj: object) -> set[int]:
    from openlines.models import OpenLine

    if isinstance(obj, OpenLine):
        return line_owner_user_ids(line=obj)
    if isinstance(obj, HasOwners):
        return obj.owner_user_ids()
    raise TypeError(f"{type(obj).__name__} does not say who owns it")


def _permitted_owner_ids(user: AnyUser, level: Level) -> set[int]:
    if level == Level.OWN:
        return {cast(int, user.pk)}
    if level == Level.DEPARTMENT:
        return user_colleague_ids(user=user)
    return set()


# --- The check ----------------------------------------------------------------------------------


def can(user: AnyUser, area: str, action: str, obj: object | None = None) -> bool:
    """May `user` perform `action` in `area` — on `obj`, or (without `obj`) on anything at all?

    Without an object the answer is "the user has some level above none", which is what creating an
    object or opening a list needs; lists are then narrowed with `permitted_queryset`.
    """
    level = user_access_level(user=user, area=area, action=action)
    if level == Level.NONE:
        return False
    if obj is None or level == Level.ANY:
        return True
    return bool(owner_user_ids(obj) & _permitted_owner_ids(user, level))


def permitted_queryset(*, user: AnyUser, area: str, action: str, queryset: QuerySet[M]) -> QuerySet[M]:
    """The objects of `queryset` on which `can(user, area, action, obj)` holds."""
    level = user_access_level(user=user, area=area, action=action)
    if level == Level.NONE:
        return queryset.none()
    if level == Level.ANY:
        return queryset
    permitted = _permitted_owner_ids(user, level)
    # Owner sets come from the line queue rules (departments expanded in Python), so they are evaluated
    # per object here rather than in SQL; the number of lines and connectors is small.
    pks = [obj.pk for obj in queryset if owner_user_ids(obj) & permitted]
    return queryset.filter(pk__in=pks)


def forget_cached_access(user: AnyUser) -> None:
    """Drop levels cached on this user object (after changing their roles in the same request)."""
    for attribute in ("_cc_access_levels", "_cc_colleague_ids"):
        user.__dict__.pop(attribute, None)


# --- Admin integration --------------------------------------------------------------------------


def _usable_autocomplete_fields(admin_obj: Any, request: HttpRequest, fields: Sequence[str]) -> list[str]:
    """Autocomplete asks the related model's admin for view permission, which role holders may lack;
    such fields fall back to a plain select instead of an empty, failing search box."""
    usable = []
    for name in fields:
        related = admin_obj.opts.get_field(name).remote_field.model
        related_admin = admin_obj.admin_site._registry.get(related)
        if related_admin is not None and related_admin.has_view_permission(request):
            usable.append(name)
    return usable


class RoleScopedAdminMixin:
    """Admin permissions from access roles instead of Django's model permissions.

    Set `permission_area`; viewing uses the area's view check (derived where the area has none), and
    adding, changing and deleting use its modify check. The change list shows only permitted objects.
    """

    permission_area: ClassVar[Area]
    view_action: ClassVar[Action] = Action.VIEW
    modify_action: ClassVar[Action] = Action.MODIFY

    def _can(self, request: HttpRequest, action: Action, obj: object | None) -> bool:
        return can(request.user, self.permission_area, action, obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._can(request, self.view_action, None)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._can(request, self.view_action, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._can(request, self.modify_action, None)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._can(request, self.modify_action, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._can(request, self.modify_action, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)  # type: ignore[misc]
        return permitted_queryset(
            user=request.user, area=self.permission_area, action=self.view_action, queryset=queryset
        )

    def get_autocomplete_fields(self, request: HttpRequest) -> list[str]:
        fields = super().get_autocomplete_fields(request)  # type: ignore[misc]
        return _usable_autocomplete_fields(self, request, fields)


class RoleScopedInlineMixin:
    """For inlines of a role-scoped admin: what may be done with the rows follows the parent object."""

    permission_area: ClassVar[Area]
    view_action: ClassVar[Action] = Action.VIEW
    modify_action: ClassVar[Action] = Action.MODIFY

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can(request.user, self.permission_area, self.view_action, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can(request.user, self.permission_area, self.modify_action, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can(request.user, self.permission_area, self.modify_action, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can(request.user, self.permission_area, self.modify_action, obj)

    def get_autocomplete_fields(self, request: HttpRequest) -> list[str]:
        fields = super().get_autocomplete_fields(request)  # type: ignore[misc]
        return _usable_autocomplete_fields(self, request, fields)
