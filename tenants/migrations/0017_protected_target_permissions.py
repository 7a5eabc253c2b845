from __future__ import annotations

from django.contrib.auth.management import create_permissions
from django.db import migrations

# MDR leads change what a customer protects (in writing from the customer); analysts read it.
GRANTS = {
    "MDR Leads": [
        "view_protectedtarget",
        "add_protectedtarget",
        "change_protectedtarget",
        "delete_protectedtarget",
    ],
    "MDR Ops": ["view_protectedtarget"],
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("tenants")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        for group in Group.objects.filter(name=name):
            group.permissions.add(
                *Permission.objects.filter(content_type__app_label="tenants", codename__in=codenames)
            )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        for group in Group.objects.filter(name=name):
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label="tenants", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [("tenants", "0016_protected_targets"), ("incidents", "0004_staff_groups")]

    operations = [migrations.RunPython(grant, revoke)]
