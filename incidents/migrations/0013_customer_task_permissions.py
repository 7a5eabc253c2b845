from __future__ import annotations

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {"MDR Ops": ["view_customertask"], "MDR Leads": ["view_customertask"]}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("incidents")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group = Group.objects.get(name=name)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="incidents", codename__in=codenames)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group = Group.objects.filter(name=name).first()
        if group:
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label="incidents", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0012_customer_tasks")]

    operations = [migrations.RunPython(grant, revoke)]
