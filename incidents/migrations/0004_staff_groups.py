from __future__ import annotations

from django.contrib.auth.management import create_permissions
from django.db import migrations

ANALYST = {
    "tenants": {
        "tenant": "view",
        "contact": "view",
        "partner": "view",
        "actionperformer": "view",
        "membership": "view",
        "partnermembership": "view",
        "settingschange": "view",
    },
    "incidents": {
        "actiontype": "view",
        "incident": "view add change",
        "responseaction": "view add change",
        "authorization": "view add",
        "timelineevent": "view",
    },
}
LEAD = {
    "tenants": {
        "tenant": "view add change",
        "contact": "view add change",
        "partner": "view add change",
        "actionperformer": "view add change delete",
        "membership": "view add change delete",
        "partnermembership": "view add change delete",
        "settingschange": "view",
    },
    "incidents": {
        "actiontype": "view add change",
        "incident": "view add change",
        "responseaction": "view add change",
        "authorization": "view add",
        "timelineevent": "view",
    },
    "auth": {"user": "view add change", "group": "view"},
}
GROUPS = {"MDR Ops": ANALYST, "MDR Leads": LEAD}


def create_groups(apps, schema_editor):
    # Permissions are normally made after migrate; groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, grants in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        codenames = [
            (app, f"{verb}_{model}")
            for app, models in grants.items()
            for model, verbs in models.items()
            for verb in verbs.split()
        ]
        perms = [
            Permission.objects.get(content_type__app_label=app, codename=code) for app, code in codenames
        ]
        group.permissions.set(perms)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0003_action_catalog"),
        ("tenants", "0002_settingschange_append_only"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
