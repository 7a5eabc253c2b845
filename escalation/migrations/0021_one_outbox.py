"""Emails, texts and reminders share one outbox: one state field (claimed, sending, sent, failed, canceled),
the provider's id, and the error as text. Rows keep their values; a reminder skipped because nothing waited
any more is canceled."""

from __future__ import annotations

from django.db import migrations, models

STATES = [
    ("claimed", "Claimed, not sent yet"),
    ("sending", "Being handed over"),
    ("sent", "Accepted by the provider"),
    ("failed", "Failed"),
    ("canceled", "Not sent"),
]

PROVIDER_ID = models.CharField(
    blank=True, db_index=True, help_text="The id the provider gave the message, if any.", max_length=64
)


def skipped_to_canceled(apps, schema_editor) -> None:  # noqa: ANN001
    apps.get_model("escalation", "Reminder").objects.filter(state="skipped").update(state="canceled")


def canceled_to_skipped(apps, schema_editor) -> None:  # noqa: ANN001
    apps.get_model("escalation", "Reminder").objects.filter(state="canceled").update(state="skipped")


class Migration(migrations.Migration):
    dependencies = [("escalation", "0020_partner_task_texts")]

    operations = [
        migrations.RemoveIndex(model_name="textmessage", name="escalation__to_b05d8c_idx"),
        migrations.RenameField("emailnotification", "outcome", "state"),
        migrations.RenameField("textmessage", "status", "state"),
        migrations.RenameField("textmessage", "provider_sid", "provider_id"),
        migrations.RenameField("reminder", "outcome", "state"),
        migrations.RunPython(skipped_to_canceled, canceled_to_skipped),
        *[
            migrations.AddField(model_name=m, name="provider_id", field=PROVIDER_ID)
            for m in ("emailnotification", "reminder")
        ],
        migrations.AlterField(model_name="textmessage", name="provider_id", field=PROVIDER_ID),
        migrations.AlterField(model_name="textmessage", name="error", field=models.TextField(blank=True)),
        *[
            migrations.AlterField(
                model_name=m,
                name="state",
                field=models.CharField(choices=STATES, default="claimed", max_length=16),
            )
            for m in ("emailnotification", "reminder", "textmessage")
        ],
        migrations.AddIndex(
            model_name="textmessage",
            index=models.Index(fields=["to", "state", "sent_at"], name="escalation__to_0cde40_idx"),
        ),
    ]
