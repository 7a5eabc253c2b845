"""Connector secrets encrypted at rest: widen the column, encrypt the stored values, then read through the key."""

from __future__ import annotations

from django.db import migrations, models

import mdrportal.core.secret_fields


def encrypt_stored(apps, schema_editor) -> None:
    ConnectorConfig = apps.get_model("incidents", "ConnectorConfig")
    for pk, secret in ConnectorConfig.objects.exclude(secret="").values_list("pk", "secret"):
        encrypted = mdrportal.core.secret_fields.encrypt(secret)
        ConnectorConfig.objects.filter(pk=pk).update(secret=encrypted)


def decrypt_stored(apps, schema_editor) -> None:
    ConnectorConfig = apps.get_model("incidents", "ConnectorConfig")
    for pk, token in ConnectorConfig.objects.exclude(secret="").values_list("pk", "secret"):
        ConnectorConfig.objects.filter(pk=pk).update(secret=mdrportal.core.secret_fields.decrypt(token))


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0009_cancel_and_stop_events"),
    ]

    operations = [
        # A token is longer than the secret it holds: a text column, still plain while the rows are rewritten.
        migrations.AlterField(
            model_name="connectorconfig",
            name="secret",
            field=models.TextField(blank=True),
        ),
        migrations.RunPython(encrypt_stored, decrypt_stored, elidable=False),
        migrations.AlterField(
            model_name="connectorconfig",
            name="secret",
            field=mdrportal.core.secret_fields.EncryptedTextField(blank=True),
        ),
    ]
