"""The numbers /metrics shows, read from the database and the broker at scrape time, so that every web
process and worker agrees without sharing memory; the event counters live in mdrportal/core/metrics.py."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Count, OuterRef, Subquery
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

from escalation.models import OPEN_CALL_OUTCOMES, CallAttempt, CallOutcome
from incidents.models import ActionAttempt, ActionStatus, AttemptOutcome, Category, Incident, ResponseAction
from operations.health import sweeper_ages

# From incident open to the first call, and to containment: minutes matter, hours are failures.
DURATION_BUCKETS = (30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0)
# The histograms are computed from the incidents of this window, at most this many, newest first.
WINDOW = timedelta(days=7)
WINDOW_LIMIT = 5000


def histogram(name: str, documentation: str, seconds: Iterable[float], buckets: Sequence[float]) -> Metric:
    values = list(seconds)
    cumulative = [(str(bound), sum(1 for v in values if v <= bound)) for bound in buckets]
    cumulative.append(("+Inf", len(values)))
    family = HistogramMetricFamily(name, documentation)
    family.add_metric([], cumulative, sum_value=sum(values))
    return family


def queue_depths() -> dict[str, int]:
    """Messages waiting in each job queue of the broker."""
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            # kombu keeps a queue in a list of its name, and prioritized messages in lists suffixed "\x06\x16N".
            pipe = client.pipeline()
            for queue in settings.CELERY_QUEUES_BY_JOB:
                pipe.llen(queue)
                for priority in (3, 6, 9):
                    pipe.llen(f"{queue}\x06\x16{priority}")
            lengths = pipe.execute()
        finally:
            client.close()
        per_queue = 4
        return {
            queue: sum(lengths[i * per_queue : (i + 1) * per_queue])
            for i, queue in enumerate(settings.CELERY_QUEUES_BY_JOB)
        }
    folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
    names = [entry.name for entry in folder.iterdir()] if folder.is_dir() else []
    return {
        queue: sum(1 for n in names if n.endswith(f".{queue}.msg")) for queue in settings.CELERY_QUEUES_BY_JOB
    }


class DatabaseCollector(Collector):
    """Calls by outcome, fallbacks, actions by status, time to first call and to containment, sweeper lag,
    queue depth. About ten queries a scrape, each bounded."""

    def collect(self) -> Iterator[Metric]:
        # Ended calls only in the counter (an outcome there never changes again); open ones are a gauge.
        by_outcome = dict(CallAttempt.objects.values_list("outcome").annotate(n=Count("id")).order_by())
        calls = CounterMetricFamily(
            "mdr_calls", "Phone calls ended, by outcome (test calls included).", labels=["outcome"]
        )
        calls_open = GaugeMetricFamily("mdr_calls_open", "Phone calls queued or ringing.", labels=["outcome"])
        for outcome in CallOutcome.values:
            family = calls_open if outcome in OPEN_CALL_OUTCOMES else calls
            family.add_metric([outcome], by_outcome.get(outcome, 0))
        yield calls
        yield calls_open

        yield CounterMetricFamily(
            "mdr_fallbacks",
            "Incidents handled as in Authorize mode because nobody acknowledged.",
            value=Incident.objects.filter(fallback_taken_at__isnull=False).count(),
        )

        actions = GaugeMetricFamily("mdr_actions", "Response actions by status.", labels=["status"])
        by_status = dict(ResponseAction.objects.values_list("status").annotate(n=Count("id")).order_by())
        for status in ActionStatus.values:
            actions.add_metric([status], by_status.get(status, 0))
        yield actions

        since = timezone.now() - WINDOW
        first_call = (
            CallAttempt.objects.filter(run__incident=OuterRef("pk"), placed_at__isnull=False)
            .order_by("placed_at")
            .values("placed_at")[:1]
        )
        contained = (
            ActionAttempt.objects.filter(
                action__incident=OuterRef("pk"),
                action__action_type__category=Category.CONTAINMENT,
                outcome=AttemptOutcome.SUCCEEDED,
            )
            .order_by("finished_at")
            .values("finished_at")[:1]
        )
        rows = list(
            Incident.objects.filter(opened_at__gte=since)
            .order_by("-opened_at")
            .annotate(first_call=Subquery(first_call), contained=Subquery(contained))
            .values_list("opened_at", "first_call", "contained")[:WINDOW_LIMIT]
        )
        yield histogram(
            "mdr_incident_open_to_first_call_seconds",
            "From an incident opening to its first call placed (incidents of the last 7 days).",
            [(call - opened).total_seconds() for opened, call, _ in rows if call],
            DURATION_BUCKETS,
        )
        yield histogram(
            "mdr_incident_open_to_containment_seconds",
            "From an incident opening to its first containment action succeeding (last 7 days).",
            [(done - opened).total_seconds() for opened, _, done in rows if done],
            DURATION_BUCKETS,
        )

        lag = GaugeMetricFamily(
            "mdr_sweeper_lag_seconds",
            "Seconds since each sweeper last finished (NaN: never ran).",
            labels=["sweeper"],
        )
        for name, age in sweeper_ages().items():
            lag.add_metric([name], float("nan") if age is None else age)
        yield lag

        depth = GaugeMetricFamily(
            "mdr_queue_depth", "Messages waiting in each Celery queue.", labels=["queue"]
        )
        try:
            depths = queue_depths()
        except Exception:  # noqa: BLE001 - an unreachable broker shows as missing samples, /healthz says why
            depths = {}
        for queue, count in depths.items():
            depth.add_metric([queue], count)
        yield depth


def metrics_exposition() -> bytes:
    """The whole page: this process's (or, under gunicorn, every process's) counters and the database's numbers."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # unannotated upstream
        registry.register(DatabaseCollector())
        return generate_latest(registry)
    registry.register(DatabaseCollector())
    return generate_latest(REGISTRY) + generate_latest(registry)
