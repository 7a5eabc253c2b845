from __future__ import annotations

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "MDR Ops": ["view_reminderseries", "view_reminder"],
    "MDR Leads": ["view_reminderseries", "view_reminder"],
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("escalation")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group = Group.objects.get(name=name)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="escalation", codename__in=codenames)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group = Group.objects.filter(name=name).first()
        if group:
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label="escalation", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [("escalation", "0009_reminders"), ("incidents", "0004_staff_groups")]

    operations = [migrations.RunPython(grant, revoke)]
