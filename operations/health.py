"""Health: can this deployment do its job right now? Database, broker, and the sweepers' heartbeats."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from operations.models import Heartbeat
from operations.services import SWEEPERS

CHECK_TIMEOUT_SECONDS = 2


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str
    # What anyone may read: an exception's text can name hosts, users and paths, so it is only in `detail`
    # (for the logs and an operator holding the metrics token).
    public_detail: str = ""

    @property
    def shown_to_anyone(self) -> str:
        return self.public_detail or self.detail


UNREACHABLE = "unreachable (the logs say why)"


def check_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # noqa: BLE001 - any failure is the answer
        return Check(False, f"{type(error).__name__}: {error}".strip()[:200], UNREACHABLE)
    return Check(True, "reachable")


def check_broker() -> Check:
    url = settings.CELERY_BROKER_URL
    try:
        if url.startswith(("redis://", "rediss://")):
            import redis

            client = redis.Redis.from_url(
                url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS
            )
            try:
                client.ping()
            finally:
                client.close()
        else:
            folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
            if not folder.is_dir():
                return Check(False, f"no broker folder at {folder}", "no broker folder")
    except Exception as error:  # noqa: BLE001 - any failure is the answer
        return Check(False, f"{type(error).__name__}: {error}".strip()[:200], UNREACHABLE)
    return Check(True, "reachable")


def sweeper_ages() -> dict[str, float | None]:
    """Seconds since each sweeper last finished; None if it never has."""
    beats = dict(Heartbeat.objects.filter(name__in=SWEEPERS).values_list("name", "beat_at"))
    now = timezone.now()
    return {name: (now - beats[name]).total_seconds() if name in beats else None for name in SWEEPERS}


def check_sweepers() -> Check:
    limit = 3 * settings.SWEEP_INTERVAL_SECONDS
    try:
        ages = sweeper_ages()
    except Exception as error:  # noqa: BLE001 - the database check names the cause
        return Check(False, f"heartbeats unreadable: {type(error).__name__}", "heartbeats unreadable")
    late = {name: age for name, age in ages.items() if age is None or age > limit}
    if late:
        return Check(
            False,
            "; ".join(
                f"{name}: never ran" if age is None else f"{name}: last ran {age:.0f} s ago (limit {limit} s)"
                for name, age in late.items()
            ),
        )
    return Check(True, f"every sweeper ran in the last {limit} s")


def health() -> dict[str, Check]:
    return {"database": check_database(), "broker": check_broker(), "sweeper": check_sweepers()}
