"""How the pages and lists grow with the database: p95 nearly empty and at --incidents / --events.

Makes two PostgreSQL databases of its own on the server DATABASE_URL names (`<name>_bench` and
`<name>_bench_large`, or --database and --database_large), migrates both and seeds each the same way: a
customer tenant with a viewer, 49 other tenants, an MDR analyst with an API token, 60 incidents, one of them
with 5,000 events. The large one is then loaded with SQL. Each page is measured through the Django test
client (in this process, no network) on both, in alternating blocks of requests, so that whatever else the
machine does at the time weighs on both sides alike:
  - the customer timeline page of that incident,
  - the customer incident list, first page,
  - the staff API incident list, first page and last page,
  - the customer's report page over the last 30 days (every figure of reports.figures),
  - the CSV of that month, streamed: its time and the most memory Python held while writing it.
The load is set-based SQL (generate_series: incidents spread over the 50 tenants, a fifth of them the
customer's, the events spread over them, one action in four incidents), then VACUUM ANALYZE and --settle
seconds while the server writes it out. It prints the p95 and the median of each page on both databases
and their ratio, and drops both databases.
    bench/pages --incidents 100000 --events 1000000 [--runs 40] [--keep]
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIMELINE_EVENTS = 5000
TENANTS = 50
TARGET = 1.5
BLOCK = 10  # requests in a row on one database
_TODAY = time.gmtime()
# A month of incidents: the 30 days up to today (the large database holds one every 5 minutes).
REPORT_URL = "/reports/?" + urlencode(
    {
        "period": "range",
        "start": time.strftime("%Y-%m-%d", time.gmtime(time.time() - 30 * 86400)),
        "end": time.strftime("%Y-%m-%d", _TODAY),
    }
)

KINDS = (
    "call_attempt",
    "notification_sent",
    "call_attempt",
    "action_proposed",
    "call_attempt",
    "authorization_requested",
    "action_queued",
    "action_started",
    "action_succeeded",
    "call_attempt",
)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=100, help="timed requests per page and size")
    parser.add_argument("--database", help="the databases to create and drop: this name and <this>_large")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--settle",
        type=float,
        default=15,
        help="seconds to wait after loading, while the server writes it out",
    )
    return parser.parse_args()


def _server() -> tuple[str, str]:
    """The configured address (to create and drop databases through) and its database name."""
    configured = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(configured)
    if parts.scheme not in ("postgres", "postgresql"):
        sys.exit(
            "bench/pages: set DATABASE_URL to a PostgreSQL database (postgres://...); it names the server."
        )
    return configured, parts.path.lstrip("/")


def _admin(url: str, statement: str, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(sql.SQL(statement).format(sql.Identifier(database)))


def _use(database: str) -> None:
    """Point this process's connection at the database: the next query reconnects."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = database


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def measure(gets: dict[str, Callable[[], object]], runs: int) -> dict[str, tuple[float, float]]:
    """The p95 and the median in milliseconds on each database, measured in alternating blocks."""
    samples: dict[str, list[float]] = {database: [] for database in gets}
    order = list(gets)
    for block in range(max(1, -(-runs // BLOCK))):
        for database in order if block % 2 == 0 else reversed(order):
            _use(database)
            get = gets[database]
            for _ in range(2):  # warm: connection open, templates compiled, pages cached
                get()
            for _ in range(BLOCK):
                start = time.perf_counter()
                get()
                samples[database].append((time.perf_counter() - start) * 1000)
    return {database: (p95(taken), statistics.median(taken)) for database, taken in samples.items()}


def main() -> None:
    args = _arguments()
    admin_url, configured = _server()
    small = args.database or configured + "_bench"
    large = small + "_large"
    for database in (small, large):
        _admin(admin_url, "DROP DATABASE IF EXISTS {}", database)
        _admin(admin_url, "CREATE DATABASE {}", database)
    os.environ["DATABASE_URL"] = urlunsplit(urlsplit(admin_url)._replace(path="/" + small))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    try:
        run(args, small, large)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            for database in (small, large):
                _admin(admin_url, "DROP DATABASE IF EXISTS {}", database)


@dataclass
class Seeded:
    """What one database holds to measure with: the incident with 5,000 events and signed-in clients."""

    customer: int
    others: list[int]
    timeline: int
    customer_client: Any
    staff_client: Any


def _seed() -> Seeded:
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from tenants.models import Role
    from tests.factories import (
        api_token,
        login_verified,
        make_analyst,
        make_incident,
        make_member,
        make_tenant,
    )

    call_command("migrate", verbosity=0)
    customer = make_tenant()
    others = [make_tenant() for _ in range(TENANTS - 1)]
    viewer = make_member(customer, Role.VIEWER)
    analyst = make_analyst()
    incidents = [make_incident(customer) for _ in range(60)]  # the list has a second page
    timeline = incidents[-1]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO incidents_timelineevent (incident_id, at, kind, actor_label, channel, summary, data)
            SELECT %s, %s::timestamptz + g * interval '1.5 seconds', (%s::text[])[1 + g %% {len(KINDS)}],
                   'MDR Ops', 'phone', 'Call ' || g || ' to Contact ' || (1 + g %% 3) || ': no answer', '{{}}'
            FROM generate_series(1, %s) g
            """,
            [timeline.pk, timeline.opened_at, list(KINDS), TIMELINE_EVENTS - 1],
        )
    customer_client = Client()
    login_verified(customer_client, viewer)
    staff_client = Client(HTTP_AUTHORIZATION=f"Token {api_token(analyst)}")
    return Seeded(customer.pk, [t.pk for t in others], timeline.pk, customer_client, staff_client)


def _ok(response: Any) -> Any:
    if response.status_code != 200:
        raise SystemExit(f"bench/pages: {response.status_code} from {response.wsgi_request.get_full_path()}")
    return response


def _last_page_url(seeded: Seeded) -> str:
    from django.db import connection

    first = _ok(seeded.staff_client.get("/api/v1/incidents/")).json()
    if "count" in first:  # numbered pages
        return f"/api/v1/incidents/?page={max(1, -(-first['count'] // 50))}"
    with connection.cursor() as cursor:  # where a client that followed `next` ends up
        cursor.execute("SELECT opened_at FROM incidents_incident ORDER BY opened_at, id OFFSET 50 LIMIT 1")
        (position,) = cursor.fetchone()
    value = base64.b64encode(urlencode({"p": str(position)}).encode()).decode()
    url = "/api/v1/incidents/?" + urlencode({"cursor": value})
    if len(_ok(seeded.staff_client.get(url)).json()["results"]) != 50:
        raise SystemExit("bench/pages: the last page should hold 50 incidents")
    return url


def _counts() -> tuple[int, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM incidents_incident), (SELECT count(*) FROM incidents_timelineevent)"
        )
        return cursor.fetchone()


def run(args: argparse.Namespace, small: str, large: str) -> None:
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()
    seeded: dict[str, Seeded] = {}
    for database in (small, large):
        _use(database)
        seeded[database] = _seed()
    _use(large)
    started = time.perf_counter()
    big = seeded[large]
    _load(big.customer, big.others, big.timeline, args.incidents, args.events)
    _vacuum()
    loading = time.perf_counter() - started
    _use(small)
    _vacuum()
    sizes = {}
    last = {}
    for database in (small, large):
        _use(database)
        sizes[database] = _counts()
        last[database] = _last_page_url(seeded[database])
    time.sleep(args.settle)

    def page(name: str, get: Callable[[Seeded, str], Any]) -> tuple[str, dict[str, tuple[float, float]]]:
        gets = {d: (lambda d=d: _ok(get(seeded[d], d))) for d in (small, large)}
        return name, measure(gets, args.runs)

    results = [
        page(
            "customer timeline page, 5,000 events",
            lambda s, d: s.customer_client.get(f"/incidents/{s.timeline}/"),
        ),
        page("customer incident list, first page", lambda s, d: s.customer_client.get("/incidents/")),
        page("staff API incident list, first page", lambda s, d: s.staff_client.get("/api/v1/incidents/")),
        page("staff API incident list, last page", lambda s, d: s.staff_client.get(last[d])),
        page("customer report page, last 30 days", lambda s, d: s.customer_client.get(REPORT_URL)),
    ]
    print(
        f"pages: nearly empty ({sizes[small][0]} incidents, {sizes[small][1]} events) vs large "
        f"({sizes[large][0]} incidents, {sizes[large][1]} events); loaded and vacuumed in {loading:.0f} s; "
        f"{args.runs} timed requests a page on each, in alternating blocks of {BLOCK}"
    )
    print(
        f"{'page':38} {'p95 nearly empty':>16} {'p95 large':>10} {'ratio':>6}   (medians: empty, large, ratio)"
    )
    worst = 0.0
    for name, found in results:
        (before, median_before), (after, median_after) = found[small], found[large]
        worst = max(worst, after / before)
        print(
            f"{name:38} {before:13.1f} ms {after:7.1f} ms {after / before:5.2f}x"
            f"   ({median_before:.1f} ms, {median_after:.1f} ms, {median_after / median_before:.2f}x)"
        )
    print(f"largest growth {worst:.2f}x (target <= {TARGET}x): {'within' if worst <= TARGET else 'OVER'}")
    for database, label in ((small, "nearly empty"), (large, "large")):
        _use(database)
        rows, seconds, peak = _csv_month(seeded[database])
        print(
            f"CSV of the last 30 days, {label}: {rows} rows in {seconds:.2f} s, Python memory peak {peak / 1e6:.1f} MB"
        )


def _csv_month(seeded: Seeded) -> tuple[int, float, int]:
    """The month's CSV read as a client reads a stream: its rows, the time, and tracemalloc's peak."""
    import tracemalloc

    tracemalloc.start()
    started = time.perf_counter()
    response = _ok(seeded.customer_client.get(REPORT_URL.replace("/reports/?", "/reports/incidents.csv?")))
    rows = sum(chunk.count(b"\n") for chunk in response.streaming_content) - 1
    seconds = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return rows, seconds, peak


def _load(customer: int, others: list[int], timeline: int, incidents: int, events: int) -> None:
    """The large database with set-based SQL: tens of seconds for 100k incidents and 1M events."""
    from django.db import connection, transaction

    from incidents.milestone_times import milestone_times_fill
    from incidents.models import ActionType, Incident, ResponseAction, TimelineEvent

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM incidents_incident")
        (before,) = cursor.fetchone()
        # Older than the seeded incidents, one every 5 minutes; a fifth of them the customer's.
        cursor.execute(
            """
            INSERT INTO incidents_incident (tenant_id, title, severity, summary, observed_activity,
                recommendations, status, needs_attention, attention_reason, policy, opened_at)
            SELECT CASE WHEN g %% 5 = 0 THEN %s ELSE (%s::int[])[1 + g %% %s] END,
                   'Suspicious activity on WS-' || g,
                   (ARRAY['critical', 'high', 'medium', 'low'])[1 + g %% 4],
                   '', '', '',
                   CASE WHEN g %% 10 = 0 THEN 'open' WHEN g %% 10 = 1 THEN 'contained' ELSE 'closed' END,
                   false, '', (SELECT policy FROM incidents_incident WHERE id = %s),
                   now() - interval '1 day' - g * interval '5 minutes'
            FROM generate_series(1, %s) g
            """,
            [customer, others, len(others), timeline, incidents],
        )
        cursor.execute("SELECT count(*) FROM incidents_timelineevent")
        (seeded,) = cursor.fetchone()
        # The rest of the events spread evenly, each incident's every 40 seconds from its opening.
        cursor.execute(
            f"""
            INSERT INTO incidents_timelineevent (incident_id, at, kind, actor_label, channel, summary, data)
            SELECT i.id, i.opened_at + (g / %s) * interval '40 seconds', (%s::text[])[1 + g %% {len(KINDS)}],
                   'MDR Ops', 'system', 'Event ' || g || ' of incident ' || i.id, '{{}}'
            FROM generate_series(0, %s - 1) g JOIN incidents_incident i ON i.id = %s + 1 + g %% %s
            """,
            [incidents, list(KINDS), max(0, events - seeded), before, incidents],
        )
        cursor.execute(
            """
            INSERT INTO incidents_responseaction (incident_id, action_type_id, target, status, performer,
                basis, decision_reason, proposed_at, updated_at)
            SELECT i.id, (SELECT id FROM incidents_actiontype WHERE code = 'isolate_endpoint'), 'WS-' || i.id,
                   CASE WHEN i.status = 'open' THEN 'awaiting_authorization' ELSE 'recommended' END,
                   'mdr', '', '', i.opened_at, i.opened_at
            FROM incidents_incident i WHERE i.id > %s AND i.id %% 4 = 0
            """,
            [before],
        )
    # The milestones' times on the incidents, as the migration fills them from the events.
    milestone_times_fill(
        Incident.objects.filter(id__gt=before),
        TimelineEvent.objects.all(),
        ResponseAction.objects.all(),
        ActionType.objects.all(),
    )


def _vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:  # autocommit outside atomic blocks: VACUUM may run
        cursor.execute("VACUUM ANALYZE incidents_incident, incidents_timelineevent, incidents_responseaction")


if __name__ == "__main__":
    main()
