"""Benchmarks of the call path on PostgreSQL + Redis + real Celery workers, against a fake Twilio REST API on
127.0.0.1 that timestamps each request it accepts.

  bench/latency [--runs 150] [--cps 10]   escalate -> the first call's request at Twilio, against a bare
                                          Celery task making the same request on the same broker (and,
                                          for reference, the floor of a path that commits its call first)
  bench/mass [--tenants 300] [--cps 10]   every tenant escalated at once, nobody answers: the pace Twilio
                                          sees, and fairness

Each run makes its own database (`<DATABASE_URL's name>_bench`, dropped first) and starts its own workers:
one for the dial queue, one for call trees, one (with beat) for the others. Nothing here is a test: the
figures are printed, with the targets of docs/benchmarks.md, and the command fails when one is missed.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
FAKE_TWILIO_PORT = 18431
ACCOUNT_SID = "AC" + "be7c4" * 6 + "00"
AUTH_TOKEN = "bench-" + "0" * 26
FROM_NUMBER = "+15005550006"
PUBLIC_BASE_URL = "http://127.0.0.1:18432"  # only written into call requests; nothing needs to answer there


def bench_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("The benchmarks need PostgreSQL: set DATABASE_URL=postgres://...")
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_bench"))


def recreate_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def configure(*, cps: int, var_dir: Path) -> dict[str, str]:
    """The environment of this process and of the workers; Django is set up on it."""
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if not broker.startswith("redis://"):
        raise SystemExit("The benchmarks need Redis: set CELERY_BROKER_URL=redis://...")
    env = {
        "DATABASE_URL": bench_database_url(),
        "CELERY_BROKER_URL": broker,
        "MDR_VAR_DIR": str(var_dir),
        # Production settings: debug off (Django keeps no query log, nothing of the embedded default).
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECRET_KEY": "bench-" + "x" * 50,
        "SECRETS_ENCRYPTION_KEYS": "YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMDA=",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_API_BASE_URL": f"http://127.0.0.1:{FAKE_TWILIO_PORT}",
        "TWILIO_CPS": str(cps),
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "RENOTIFY_DELAY_MINUTES": "60",
        "LOG_FORMAT": "plain",
        # As compose.yaml runs the dialing and call-tree workers: a task keeps its process's connection.
        "DB_CONN_MAX_AGE": "300",
    }
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "mdrportal.settings"
    recreate_database(env["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


class Workers:
    """The deployment in small, one worker per kind of job: dialing, call trees, and (with beat) the rest, so
    that a call tree's step never waits behind hundreds of emails. Dialing and call trees have the processes
    compose.yaml gives them (2 and 4): their tasks mostly wait for the database and Twilio."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir = {**os.environ, **env}, log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        from mdrportal.celery import app

        with app.connection_for_write() as conn:
            app.control.purge(connection=conn)
        for name, queues, extra in (
            ("dial", "dial", ["--concurrency=2"]),
            ("runs", "runs", ["--concurrency=4"]),
            ("other", "actions,mail,sweep", ["--concurrency=1", "--beat"]),
        ):
            log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "mdrportal", "worker", "--loglevel=WARNING",
                     "--queues", queues, "--include", "bench.bare_task", "--hostname", f"bench-{name}@%h",
                     "--schedule", str(self.log_dir / "beat-schedule"), *extra],
                    cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                )
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            replies = app.control.ping(timeout=1.0) or []
            if len(replies) >= len(self.processes):
                return
        raise SystemExit(f"the workers did not start: see {self.log_dir}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


class TimedTwilio:
    """The fake Twilio REST API (bench.fake_twilio, in a process of its own), noting when each call request
    arrived and for which attempt; `on_call` is told of each call it accepted (the carrier's part)."""

    def __init__(self, on_call: Callable[[int, str], None] | None = None) -> None:
        self.arrivals: list[tuple[float, int]] = []
        self.on_call = on_call
        self._lock = threading.Lock()

    def __enter__(self) -> TimedTwilio:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.fake_twilio", "--port", str(FAKE_TWILIO_PORT),
             "--account-sid", ACCOUNT_SID, "--auth-token", AUTH_TOKEN],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        if self.process.stdout.readline().strip() != "ready":
            raise SystemExit("the fake Twilio did not start")
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        return self

    def _read(self) -> None:
        for line in self.process.stdout:
            at, attempt, sid = line.split()
            with self._lock:
                self.arrivals.append((float(at), int(attempt)))
            if self.on_call is not None:
                self.on_call(int(attempt), sid)

    def __exit__(self, *exc_info: object) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.reader.join(timeout=30)

    def arrived(self) -> list[tuple[float, int]]:
        with self._lock:
            return list(self.arrivals)


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, every: float = 0.002) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(every)
    raise SystemExit(f"timed out after {timeout} s waiting for {what}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def most_in_one_sliding_second(times: list[float]) -> int:
    times, most, start = sorted(times), 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - 1:
            start += 1
        most = max(most, end - start + 1)
    return most


def tenants_with_incidents(count: int, *, phones: int, ring_timeout: int = 30) -> list[object]:
    from incidents.services import incident_open
    from tenants.services import contact_create, tenant_create, tenant_update_settings

    incidents = []
    for n in range(count):
        tenant = tenant_create(name=f"Bench {n}", slug=f"bench-{n}", tier="complete", by=None)
        for i in range(phones):
            contact_create(
                tenant=tenant, by=None, name=f"Contact {n}.{i + 1}", email=f"c{i + 1}@b{n}.example",
                phone=f"+1202555{(n * phones + i) % 10000:04d}",
            )  # fmt: skip
        if ring_timeout != 30:
            tenant_update_settings(tenant=tenant, by=None, ring_timeout_seconds=ring_timeout)
        incidents.append(incident_open(tenant=tenant, title="Ransomware", severity="critical", by=None))
    return incidents


def verdict(ok: bool) -> str:
    return "within target" if ok else "MISSED"


# bench/latency -------------------------------------------------------------------------------------------


def latency(runs: int, cps: int) -> bool:
    from django.db import connection, transaction

    from bench.bare_task import FLOOR_TABLE
    from escalation.runs.services import notification_start
    from mdrportal.celery import app

    incidents = tenants_with_incidents(runs + 5, phones=1)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {FLOOR_TABLE} (id bigserial PRIMARY KEY, claimed boolean DEFAULT false)"
        )

    def floor() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {FLOOR_TABLE} DEFAULT VALUES RETURNING id")
            (row_id,) = cursor.fetchone()
        app.send_task("bench.floor_call", args=[row_id, "+12025550100"])

    took: dict[str, list[float]] = {"escalate": [], "bare": [], "floor": []}
    with TimedTwilio() as twilio, tempfile.TemporaryDirectory() as logs:
        workers = Workers(dict(os.environ), Path(logs))
        workers.start()
        try:
            for i, incident in enumerate(incidents):
                # Taken in turns, so that all see the same machine at the same moment.
                for kind in took:
                    before = len(twilio.arrived())
                    started = time.time()
                    if kind == "escalate":
                        notification_start(incident=incident, by=None)
                    elif kind == "bare":
                        app.send_task("bench.bare_call", args=[10**9 + i, "+12025550100"])
                    else:
                        floor()
                    wait_until(
                        lambda b=before: len(twilio.arrived()) > b, timeout=30, what=f"the {kind} call"
                    )
                    if i >= 5:  # the first few warm the workers up
                        took[kind].append((twilio.arrived()[before][0] - started) * 1000)
                    time.sleep(max(0.25, 1.5 / cps))  # past the pacer's interval: each call finds a free slot
        finally:
            workers.stop()
            connection.close()
    (e50, e99), (b50, b99), (f50, f99) = ((percentile(v, 50), percentile(v, 99)) for v in took.values())
    runs_done = len(took["escalate"])
    print(f"escalate -> first call request: p50 {e50:.1f} ms, p99 {e99:.1f} ms ({runs_done} runs)")
    print(f"bare Celery task, same request:  p50 {b50:.1f} ms, p99 {b99:.1f} ms ({runs_done} runs)")
    print(f"floor (the call's row committed, then claimed in the task, same request): p50 {f50:.1f} ms, p99 "
          f"{f99:.1f} ms; ratios to the bare task {f50 / b50:.2f} / {f99 / b99:.2f}")  # fmt: skip
    ok50, ok99 = e50 <= 5 * b50, e99 <= 2 * b99
    print(f"ratio p50 {e50 / b50:.2f} (target <= 5): {verdict(ok50)}")
    print(f"ratio p99 {e99 / b99:.2f} (target <= 2): {verdict(ok99)}")
    return ok50 and ok99


# bench/mass ----------------------------------------------------------------------------------------------


def mass(tenants: int, cps: int, ring_timeout: int) -> bool:
    from django.db import close_old_connections, connection

    from escalation.calls.progress import call_update
    from escalation.models import CallAttempt
    from escalation.runs.services import notification_start
    from incidents.models import EventKind, TimelineEvent

    incidents = tenants_with_incidents(tenants, phones=2, ring_timeout=ring_timeout)
    expected = 2 * tenants
    ended: dict[int, float] = {}

    def nobody_answers(attempt_id: int, sid: str) -> None:
        """The carrier's part: it rings out unanswered, and Twilio says so in the status callback."""

        def ring_out() -> None:
            try:
                ended[attempt_id] = time.time()
                call_update(attempt_id=attempt_id, status="no-answer")
            finally:
                close_old_connections()

        timer = threading.Timer(ring_timeout, ring_out)
        timer.daemon = True
        timer.start()

    with TimedTwilio(on_call=nobody_answers) as twilio, tempfile.TemporaryDirectory() as logs:
        workers = Workers(dict(os.environ), Path(logs))
        workers.start()
        try:
            started = time.time()
            for incident in incidents:
                notification_start(incident=incident, by=None)
            print(f"{tenants} tenants escalated in {time.time() - started:.1f} s")
            wait_until(
                lambda: len(twilio.arrived()) >= expected,
                timeout=expected / cps * 2 + 60,
                what=f"{expected} calls",
                every=0.2,  # this process is also the carrier: it should not spin
            )
            # Every tree ends with its last call: wait for the decisions to be recorded.
            exhausted = TimelineEvent.objects.filter(kind=EventKind.CALLS_EXHAUSTED)
            wait_until(
                lambda: exhausted.count() >= tenants,
                timeout=ring_timeout + 60,
                what="every call tree to end",
                every=0.2,
            )
        finally:
            workers.stop()
        arrivals = twilio.arrived()
        calls = {
            c.pk: c for c in CallAttempt.objects.filter(pk__in=[a for _, a in arrivals]).select_related("run")
        }
        decided = dict(
            TimelineEvent.objects.filter(kind=EventKind.CALLS_EXHAUSTED).values_list("data__run", "at")
        )
        connection.close()

    times = sorted(at for at, _ in arrivals)
    arrived_at = {attempt: at for at, attempt in arrivals}
    span = times[-1] - times[0]
    sustained = (len(times) - 1) / span
    busiest = max(sum(1 for other in times if at <= other < at + 10) for at in times) / 10
    most = most_in_one_sliding_second(times)
    # Fairness: a run's second call placed while another run's first call had been waiting over 1 s.
    firsts = [(c.queued_at.timestamp(), arrived_at[c.pk]) for c in calls.values() if c.sequence == 1]
    unfair = sum(
        1
        for c in calls.values()
        if c.sequence > 1
        and any(queued <= arrived_at[c.pk] - 1 < arrived_at[c.pk] < placed for queued, placed in firsts)
    )
    # Whether the dialer or the supply of calls set the pace: the gaps between two requests at Twilio through
    # which a call waited (queued before the first, requested at the second or later).
    queued = [(c.queued_at.timestamp(), arrived_at[c.pk]) for c in calls.values()]
    waited_gaps = [
        after - before
        for before, after in zip(times, times[1:], strict=False)
        if any(q <= before and placed >= after for q, placed in queued)
    ]
    # The decision (calls exhausted) after the last call's final status.
    lags = []
    for call in calls.values():
        if call.sequence == 2 and call.run_id in decided and call.pk in ended:
            lags.append(decided[call.run_id].timestamp() - ended[call.pk])
    print(f"{len(times)} calls over {span:.1f} s at Twilio, TWILIO_CPS {cps}, ring timeout {ring_timeout} s")
    ok_rate = sustained >= 0.95 * cps and busiest <= cps
    print(f"sustained {sustained:.2f} calls/s, busiest 10 s {busiest:.2f} calls/s (target >= {0.95 * cps:.2f} "
          f"and <= {cps}): {verdict(ok_rate)}")  # fmt: skip
    if waited_gaps:
        print(f"while calls waited ({len(waited_gaps)} of {len(times) - 1} gaps): "
              f"{len(waited_gaps) / sum(waited_gaps):.2f} calls/s (the dialer's pace; in the other gaps the "
              "call trees had queued nothing)")  # fmt: skip
    print(f"most calls in one sliding second: {most} (target <= {cps}): {verdict(most <= cps)}")
    print(f"second calls placed while another run's first call had waited over 1 s: {unfair} (target 0): "
          f"{verdict(unfair == 0)}")  # fmt: skip
    if lags:
        p50, p99 = percentile(lags, 50), percentile(lags, 99)
        print(f"last call's final status -> the tree's decision: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms "
              f"({len(lags)} trees; target p99 < 2 s): {verdict(p99 < 2)}")  # fmt: skip
    return ok_rate and most <= cps and unfair == 0 and (not lags or percentile(lags, 99) < 2)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("benchmark", choices=["latency", "mass"])
    parser.add_argument("--runs", type=int, default=150, help="latency: escalations (and as many bare tasks)")
    parser.add_argument("--tenants", type=int, default=300, help="mass: tenants escalated at once")
    parser.add_argument("--cps", type=int, default=10, help="TWILIO_CPS")
    parser.add_argument("--ring-timeout", type=int, default=15, help="mass: seconds each call rings")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as var_dir:
        configure(cps=args.cps, var_dir=Path(var_dir))
        print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, load average "
              f"{os.getloadavg()[0]:.1f}")  # fmt: skip
        if args.benchmark == "latency":
            ok = latency(args.runs, args.cps)
        else:
            ok = mass(args.tenants, args.cps, args.ring_timeout)
        print(
            f"load average at the end {os.getloadavg()[0]:.1f} (the machine's other work weighs on the figures)"
        )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
