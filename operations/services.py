"""Operations' writes: heartbeats of the periodic jobs and the pruning of rows past their retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from escalation.models import UsedLink
from incidents.models import IdempotencyKey
from mdrportal.core import task_names
from operations.models import Heartbeat
from tenants.api_tokens import api_tokens_expired_prune

# The sweepers whose heartbeat /healthz reads: both run every SWEEP_INTERVAL_SECONDS from beat.
SWEEPERS = (task_names.ESCALATION_SWEEP, task_names.ACTIONS_SWEEP)


def heartbeat_record(*, name: str, at: datetime | None = None) -> None:
    """One statement, whatever the number of workers: insert the row or move its time on."""
    Heartbeat.objects.bulk_create(
        [Heartbeat(name=name, beat_at=at or timezone.now())],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["beat_at"],
    )


@dataclass(frozen=True)
class Pruned:
    idempotency_keys: int
    used_links: int
    api_tokens: int


def used_link_retention() -> timedelta:
    # A link is refused by its signature's age after LINK_MAX_AGE_HOURS, so its used row is no longer needed
    # then; a day more covers clocks that disagree.
    return timedelta(hours=settings.LINK_MAX_AGE_HOURS) + timedelta(days=1)


def expired_rows_prune(*, now: datetime | None = None) -> Pruned:
    """Delete idempotency keys and used-link rows older than their retention, and expired API tokens."""
    now = now or timezone.now()
    keys_before = now - timedelta(hours=settings.IDEMPOTENCY_KEY_RETENTION_HOURS)
    keys, _ = IdempotencyKey.objects.filter(created_at__lt=keys_before).delete()
    links_before = now - used_link_retention()
    table = connection.ops.quote_name(UsedLink._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The append-only trigger lets through only deletes of rows older than this, in this transaction.
            cursor.execute(
                "SELECT set_config('mdr.prune_used_links_before', %s, true)", [links_before.isoformat()]
            )
        # UsedLink's manager refuses deletes (the rows are append-only for the application); this is the one
        # place that removes them, and only past their retention.
        cursor.execute(f"DELETE FROM {table} WHERE used_at < %s", [links_before])
        links = cursor.rowcount
    tokens = api_tokens_expired_prune(now=now)
    return Pruned(idempotency_keys=keys, used_links=links, api_tokens=tokens)
