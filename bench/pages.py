"""How the pages and lists grow with the database: p95 nearly empty, then at --incidents / --events.

Makes a PostgreSQL database of its own next to the one DATABASE_URL names (`<name>_bench`, or --database),
migrates it, seeds a customer tenant with a viewer, an MDR analyst with an API token and one incident
with 5,000 events, and measures through the Django test client (in this process, no network):
  - the customer timeline page of that incident,
  - the customer incident list, first page,
  - the staff API incident list, first page and last page.
Then it loads the large database with SQL (generate_series: incidents spread over 50 tenants, a fifth of
them the customer's, events spread over them, one action in four incidents), vacuums, analyzes, measures
again (after --settle seconds: the server writes the load out meanwhile), prints the p95 of each and the
ratio, and drops the database.
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
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIMELINE_EVENTS = 5000
TENANTS = 50
TARGET = 1.5

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
    parser.add_argument("--database", help="the database to create and drop (default: <name>_bench)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--settle",
        type=float,
        default=15,
        help="seconds to wait after loading, while the server writes it out",
    )
    return parser.parse_args()


def _database_url(name: str | None) -> tuple[str, str, str]:
    """The admin address (the configured database) and the bench's own address and name."""
    configured = os.environ.get("DATABASE_URL", "")
    parts = urlsplit(configured)
    if parts.scheme not in ("postgres", "postgresql"):
        sys.exit(
            "bench/pages: set DATABASE_URL to a PostgreSQL database (postgres://...); it names the server."
        )
    bench = name or parts.path.lstrip("/") + "_bench"
    return configured, urlunsplit(parts._replace(path="/" + bench)), bench


def _admin(url: str, sql: str) -> None:
    import psycopg
    from psycopg import sql as q

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(q.SQL(sql).format(q.Identifier(os.environ["MDR_BENCH_DATABASE"])))


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def measure(get: Callable[[], object], runs: int) -> tuple[float, float]:
    """The p95 and the median, in milliseconds."""
    for _ in range(5):  # warm: templates compiled, connections open, pages cached
        get()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        get()
        samples.append((time.perf_counter() - start) * 1000)
    return p95(samples), statistics.median(samples)


def main() -> None:
    args = _arguments()
    admin_url, bench_url, bench = _database_url(args.database)
    os.environ["MDR_BENCH_DATABASE"] = bench
    _admin(admin_url, "DROP DATABASE IF EXISTS {}")
    _admin(admin_url, "CREATE DATABASE {}")
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _admin(admin_url, "DROP DATABASE IF EXISTS {}")


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    from tenants.models import Role
    from tests.factories import (
        api_token,
        login_verified,
        make_analyst,
        make_incident,
        make_member,
        make_tenant,
    )

    setup_test_environment()
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

    def ok(response: object) -> object:
        if response.status_code != 200:  # type: ignore[attr-defined]
            raise SystemExit(
                f"bench/pages: {response.status_code} from {response.wsgi_request.get_full_path()}"
            )  # type: ignore[attr-defined]
        return response

    def last_page_url() -> str:
        first = ok(staff_client.get("/api/v1/incidents/")).json()  # type: ignore[attr-defined]
        if "count" in first:  # numbered pages
            return f"/api/v1/incidents/?page={max(1, -(-first['count'] // 50))}"
        with connection.cursor() as cursor:  # where a client that followed `next` ends up
            cursor.execute(
                "SELECT opened_at FROM incidents_incident ORDER BY opened_at, id OFFSET 50 LIMIT 1"
            )
            (position,) = cursor.fetchone()
        cursor_value = base64.b64encode(urlencode({"p": str(position)}).encode()).decode()
        return "/api/v1/incidents/?" + urlencode({"cursor": cursor_value})

    def pages() -> dict[str, tuple[float, float]]:
        detail = f"/incidents/{timeline.pk}/"
        last = last_page_url()
        if len(ok(staff_client.get(last)).json()["results"]) != 50:  # type: ignore[attr-defined]
            raise SystemExit("bench/pages: the last page should hold 50 incidents")
        return {
            "customer timeline page, 5,000 events": measure(
                lambda: ok(customer_client.get(detail)), args.runs
            ),
            "customer incident list, first page": measure(
                lambda: ok(customer_client.get("/incidents/")), args.runs
            ),
            "staff API incident list, first page": measure(
                lambda: ok(staff_client.get("/api/v1/incidents/")), args.runs
            ),
            "staff API incident list, last page": measure(lambda: ok(staff_client.get(last)), args.runs),
        }

    _vacuum()
    small = pages()
    started = time.perf_counter()
    _load(customer.pk, [t.pk for t in others], timeline.pk, args.incidents, args.events)
    _vacuum()
    loading = time.perf_counter() - started
    time.sleep(args.settle)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM incidents_incident), (SELECT count(*) FROM incidents_timelineevent)"
        )
        incidents_now, events_now = cursor.fetchone()
    large = pages()

    print(
        f"pages: nearly empty (60 incidents, {TIMELINE_EVENTS} events) -> {incidents_now} incidents, "
        f"{events_now} events; loaded and vacuumed in {loading:.0f} s (then {args.settle:.0f} s to settle); "
        f"{args.runs} timed requests each"
    )
    print(
        f"{'page':38} {'p95 nearly empty':>16} {'p95 large':>10} {'ratio':>6}   (medians: empty, large, ratio)"
    )
    worst = 0.0
    for name, (before, median_before) in small.items():
        after, median_after = large[name]
        worst = max(worst, after / before)
        print(
            f"{name:38} {before:13.1f} ms {after:7.1f} ms {after / before:5.2f}x"
            f"   ({median_before:.1f} ms, {median_after:.1f} ms, {median_after / median_before:.2f}x)"
        )
    print(f"largest growth {worst:.2f}x (target <= {TARGET}x): {'within' if worst <= TARGET else 'OVER'}")


def _load(customer: int, others: list[int], timeline: int, incidents: int, events: int) -> None:
    """The large database with set-based SQL: tens of seconds for 100k incidents and 1M events."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM incidents_incident")
        (before,) = cursor.fetchone()
        # Older than the seeded incidents, one every 5 minutes; a fifth of them the customer's.
        cursor.execute(
            """
            INSERT INTO incidents_incident (tenant_id, title, severity, summary, observed_activity,
                recommendations, status, needs_attention, policy, opened_at)
            SELECT CASE WHEN g %% 5 = 0 THEN %s ELSE (%s::int[])[1 + g %% %s] END,
                   'Suspicious activity on WS-' || g,
                   (ARRAY['critical', 'high', 'medium', 'low'])[1 + g %% 4],
                   '', '', '',
                   CASE WHEN g %% 10 = 0 THEN 'open' WHEN g %% 10 = 1 THEN 'contained' ELSE 'closed' END,
                   false, (SELECT policy FROM incidents_incident WHERE id = %s),
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


def _vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:  # autocommit outside atomic blocks: VACUUM may run
        cursor.execute("VACUUM ANALYZE incidents_incident, incidents_timelineevent, incidents_responseaction")


if __name__ == "__main__":
    main()
