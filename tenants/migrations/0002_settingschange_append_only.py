from __future__ import annotations

from django.db import migrations

from mdrportal.core.append_only import RefuseUpdateAndDelete


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [RefuseUpdateAndDelete("settingschange")]
