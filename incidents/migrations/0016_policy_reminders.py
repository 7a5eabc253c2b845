"""The reminder settings join the policy snapshotted on an incident. Incidents still open take their tenant's
current settings, as they have been reading them until now; closed ones keep their snapshot as it was."""

from django.db import migrations

ACTIVE = ("open", "contained")
BATCH = 500


def snapshot_reminder_settings(apps, schema_editor):
    Incident = apps.get_model("incidents", "Incident")
    changed = []
    active = Incident.objects.filter(status__in=ACTIVE).select_related("tenant").order_by("pk")
    for incident in active.iterator(chunk_size=BATCH):
        policy = incident.policy
        if not isinstance(policy, dict) or "reminder_minutes" in policy:
            continue
        policy["reminder_minutes"] = incident.tenant.reminder_minutes
        policy["reminder_count"] = incident.tenant.reminder_count
        changed.append(incident)
        if len(changed) >= BATCH:
            Incident.objects.bulk_update(changed, ["policy"])
            changed.clear()
    Incident.objects.bulk_update(changed, ["policy"])


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0015_sms_channel"),
        ("tenants", "0010_contact_channels"),
    ]

    operations = [migrations.RunPython(snapshot_reminder_settings, migrations.RunPython.noop)]
