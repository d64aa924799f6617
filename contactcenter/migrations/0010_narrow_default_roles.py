"""Narrow the default Manager role (given to all employees): only administrators configure lines and
channels; agents see the lines whose queue they are in and get their own conversations.

Manager before: lines view any, connectors modify any. After: lines view own, connectors modify none.

"Explicitly set" is detected by the role's levels: a role named Manager whose levels are still exactly the
ones 0003_default_roles created (every area/action row present with its original level, nothing more) was
never edited and is narrowed; a role that differs in any level, or lacks or has extra rows, was changed by an
administrator and is kept as it is. Assignments are never touched. Reversing restores the old levels on a
role that holds exactly the narrowed ones.
"""

from django.db import migrations

OLD_MANAGER = {
    ("lines", "view"): 3,
    ("lines", "modify"): 0,
    ("connectors", "modify"): 3,
    ("statistics", "view"): 1,
    ("history", "view"): 1,
    ("join", "perform"): 1,
    ("vote_head", "perform"): 0,
    ("settings", "modify"): 0,
}
NEW_MANAGER = {**OLD_MANAGER, ("lines", "view"): 1, ("connectors", "modify"): 0}
OLD_DESCRIPTION = "Sees all lines and connects channels; own statistics, history and conversations."
NEW_DESCRIPTION = "Sees the lines whose queue they are in; own statistics, history and conversations."


def _replace_untouched(apps, before, after, description_before, description_after):
    Role = apps.get_model("contactcenter", "Role")
    RolePermission = apps.get_model("contactcenter", "RolePermission")
    role = Role.objects.filter(name="Manager").first()
    if role is None:
        return
    stored = {(p.area, p.action): p.level for p in RolePermission.objects.filter(role=role)}
    if stored != before:
        return
    for (area, action), level in after.items():
        if before[(area, action)] != level:
            RolePermission.objects.filter(role=role, area=area, action=action).update(level=level)
    if role.description == description_before:
        role.description = description_after
        role.save(update_fields=["description"])


def narrow_manager(apps, schema_editor):
    _replace_untouched(apps, OLD_MANAGER, NEW_MANAGER, OLD_DESCRIPTION, NEW_DESCRIPTION)


def widen_manager(apps, schema_editor):
    _replace_untouched(apps, NEW_MANAGER, OLD_MANAGER, NEW_DESCRIPTION, OLD_DESCRIPTION)


class Migration(migrations.Migration):
    dependencies = [("contactcenter", "0009_connector_disconnect")]

    operations = [migrations.RunPython(narrow_manager, widen_manager)]
