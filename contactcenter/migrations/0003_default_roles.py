"""Default access roles of the reference (§7): Administrator, Chief executive, Manager.

Levels: 0 none, 1 own (A), 2 own + department (D), 3 any (X). Manager is given to all employees like
the reference's "whole company"; Administrator and Chief executive are created unassigned (superusers
have everything anyway).
"""

from django.db import migrations

ALL_AREAS = [
    ("lines", "view"),
    ("lines", "modify"),
    ("connectors", "modify"),
    ("statistics", "view"),
    ("history", "view"),
    ("join", "perform"),
    ("vote_head", "perform"),
    ("settings", "modify"),
]

DEFAULT_ROLES = {
    "Administrator": (
        "Full access to open lines, channels, statistics, history and common settings.",
        {key: 3 for key in ALL_AREAS},
        False,
    ),
    "Chief executive": (
        "Full access except common settings.",
        {**{key: 3 for key in ALL_AREAS}, ("settings", "modify"): 0},
        False,
    ),
    "Manager": (
        "Sees all lines and connects channels; own statistics, history and conversations.",
        {
            ("lines", "view"): 3,
            ("lines", "modify"): 0,
            ("connectors", "modify"): 3,
            ("statistics", "view"): 1,
            ("history", "view"): 1,
            ("join", "perform"): 1,
            ("vote_head", "perform"): 0,
            ("settings", "modify"): 0,
        },
        True,
    ),
}


def create_default_roles(apps, schema_editor):
    Role = apps.get_model("contactcenter", "Role")
    RolePermission = apps.get_model("contactcenter", "RolePermission")
    RoleAssignment = apps.get_model("contactcenter", "RoleAssignment")
    for name, (description, levels, everyone) in DEFAULT_ROLES.items():
        role, created = Role.objects.get_or_create(name=name, defaults={"description": description})
        if not created:
            continue
        RolePermission.objects.bulk_create(
            RolePermission(role=role, area=area, action=action, level=level)
            for (area, action), level in levels.items()
        )
        if everyone:
            RoleAssignment.objects.create(role=role, all_employees=True)


def remove_default_roles(apps, schema_editor):
    apps.get_model("contactcenter", "Role").objects.filter(name__in=list(DEFAULT_ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [("contactcenter", "0002_access_roles_and_api_tokens")]

    operations = [migrations.RunPython(create_default_roles, remove_default_roles)]
