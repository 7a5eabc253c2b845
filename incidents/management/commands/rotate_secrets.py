"""Re-encrypt every stored connector secret with the first key of SECRETS_ENCRYPTION_KEYS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from incidents.connector_models import ConnectorConfig


class Command(BaseCommand):
    help = (
        "Re-encrypt stored connector secrets with the first key in SECRETS_ENCRYPTION_KEYS; "
        "afterwards the keys after it can be removed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = 0
        with transaction.atomic():
            # Reading decrypts with whichever key opens the value; saving encrypts with the first key.
            for config in ConnectorConfig.objects.select_for_update(no_key=True).exclude(secret=""):
                config.save(update_fields=["secret"])
                rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} connector secret(s) with the first key.")
