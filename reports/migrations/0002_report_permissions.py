from __future__ import annotations

from django.contrib.auth.management import create_permissions
from django.db import migrations

# MDR leads set each customer's recipients and resend; MDR Ops reads what was sent.
GRANTS = {
    "MDR Ops": ["view_reportrecipient", "view_reportsend"],
    "MDR Leads": [
        "view_reportrecipient",
        "add_reportrecipient",
        "change_reportrecipient",
        "delete_reportrecipient",
        "view_reportsend",
    ],
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("reports")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group = Group.objects.get(name=name)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="reports", codename__in=codenames)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GRANTS.items():
        group = Group.objects.filter(name=name).first()
        if group:
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label="reports", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0001_monthly_report_recipients_and_sends"),
        ("incidents", "0004_staff_groups"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
