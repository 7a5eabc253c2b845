"""manage.py prune_expired: idempotency keys and used-link rows older than their retention, and expired API
tokens (run daily)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from operations.services import expired_rows_prune


class Command(BaseCommand):
    help = (
        "Delete idempotency keys older than IDEMPOTENCY_KEY_RETENTION_HOURS, used-link rows past their links' "
        "age and expired API tokens."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        pruned = expired_rows_prune()
        self.stdout.write(
            f"Deleted {pruned.idempotency_keys} idempotency key(s), {pruned.used_links} used-link row(s) and "
            f"{pruned.api_tokens} expired API token(s)."
        )
