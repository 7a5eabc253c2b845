"""A monthly report's send is an outbox row like every other message: its state field (values kept) and the
provider's id."""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("reports", "0003_monthly_report_switch")]

    operations = [
        migrations.RenameField("reportsend", "outcome", "state"),
        migrations.AlterField(
            model_name="reportsend",
            name="state",
            field=models.CharField(
                choices=[
                    ("claimed", "Claimed, not sent yet"),
                    ("sending", "Being handed over"),
                    ("sent", "Accepted by the provider"),
                    ("failed", "Failed"),
                    ("canceled", "Not sent"),
                ],
                default="claimed",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="reportsend",
            name="provider_id",
            field=models.CharField(
                blank=True,
                db_index=True,
                help_text="The id the provider gave the message, if any.",
                max_length=64,
            ),
        ),
    ]
