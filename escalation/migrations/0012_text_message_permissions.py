from __future__ import annotations

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    """MDR staff read texts as they read calls and emails."""
    app_config = apps.get_app_config("escalation")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label="escalation", codename="view_textmessage")
    for group in Group.objects.filter(name__in=["MDR Ops", "MDR Leads"]):
        group.permissions.add(*perms)


class Migration(migrations.Migration):
    dependencies = [("escalation", "0011_text_messages")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
