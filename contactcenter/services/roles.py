"""Writes to access roles: the levels a role holds."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from contactcenter.models import Role, RolePermission
from contactcenter.permissions import Action, Area, allowed_levels


@transaction.atomic
def role_levels_set(*, role: Role, levels: Mapping[tuple[str, str], int]) -> None:
    """Store the given area/action levels of `role`; a level the area does not allow is refused."""
    for (area, action), level in levels.items():
        if level not in allowed_levels(area, action):
            raise ValidationError(
                _("%(area)s / %(action)s does not allow this level.")
                % {"area": Area(area).label, "action": Action(action).label}
            )
        RolePermission.objects.update_or_create(
            role=role, area=area, action=action, defaults={"level": level}
        )
