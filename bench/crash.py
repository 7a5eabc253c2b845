"""Crash survival: the deployment in small (PostgreSQL, Redis, gunicorn, a worker per kind of job with beat)
under a burst of 30 call trees at Authorize customers, each with an endpoint isolation, while one fault strikes:

  postgres  PostgreSQL stopped with `-m immediate` for 5 s, then started again
  worker    the dialing and call-tree workers killed with SIGKILL (started again 2 s later, as a supervisor
            would)
  redis     Redis killed and started again empty, three times in a row (3 s away each time)

  bench/crash [--faults postgres,worker,redis] [--trees 30]

Per fault it prints: isolations run (each exactly once, counted in the simulated EDR's log lines), calls
placed per contact against the calls its tree asks for (counted at a fake Twilio), tasks lost (an isolation
not done or a tree not ended once the fault is over), web answers 5xx other than 503 (a poller asks the API
all along), and whether each worker stayed up by itself (PostgreSQL and Redis faults: nothing restarts them).

It starts its own PostgreSQL (initdb into a temporary folder, port 5440; as user postgres when run as root)
and its own Redis (port 6390, nothing saved), and stops both at the end; the shared services are left alone.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from bench.calls import ROOT, TimedTwilio, configure

PG_PORT = 5440
REDIS_PORT = 6390
WEB_PORT = 18436
PG_BIN = Path("/usr/lib/postgresql/15/bin")
RING_SECONDS = 3  # the carrier's part: each call rings this long, unanswered (the tenants' timeout is 10 s)
SETTLE_SECONDS = 150


class Postgres:
    """A PostgreSQL cluster of its own in a temporary folder."""

    def __init__(self, folder: Path) -> None:
        self.data, self.log = folder / "pgdata", folder / "postgres.log"
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_postgres, str(PG_BIN / tool), *args], check=True, capture_output=True)

    def start(self) -> None:
        options = (
            f"-p {PG_PORT} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")


class Redis:
    def __init__(self, folder: Path) -> None:
        self.folder, self.process = folder, None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while (
            subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "ping"], capture_output=True).stdout
            != b"PONG\n"
        ):
            if time.monotonic() > deadline:
                raise SystemExit("redis-server did not start")
            time.sleep(0.1)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class Workers:
    """One worker per kind of job, as compose.yaml runs them (with beat in the last), each a process of its
    own that the bench can kill and start again."""

    KINDS = {
        "dial": ["--queues", "dial", "--concurrency=2"],
        "runs": ["--queues", "runs", "--concurrency=4"],
        "other": ["--queues", "actions,mail,sweep", "--concurrency=2", "--beat"],
    }

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.exits: list[str] = []

    def start(self, kind: str) -> None:
        log = open(self.log_dir / f"{kind}.log", "ab")  # noqa: SIM115 - closed with the process
        self.processes[kind] = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "mdrportal", "worker", "--loglevel=INFO",
             "--hostname", f"crash-{kind}@%h", "--schedule", str(self.log_dir / "beat-schedule"),
             *self.KINDS[kind]],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def start_all(self) -> None:
        for kind in self.KINDS:
            self.start(kind)
        for kind in self.KINDS:
            log = self.log_dir / f"{kind}.log"
            deadline = time.monotonic() + 90
            while b" ready." not in log.read_bytes():
                if time.monotonic() > deadline:
                    raise SystemExit(f"the {kind} worker did not start: see {log}")
                time.sleep(0.5)

    def kill(self, kind: str) -> None:
        os.killpg(self.processes[kind].pid, signal.SIGKILL)
        self.processes[kind].wait()

    def exited(self) -> list[str]:
        return [kind for kind, p in self.processes.items() if p.poll() is not None]

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


class Web:
    """gunicorn, and a poller asking the API (with a token nobody has: the database is read to refuse it)."""

    def __init__(self, log_dir: Path) -> None:
        log = open(log_dir / "web.log", "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "python:mdrportal.gunicorn", "mdrportal.wsgi:application"],
            # Plain HTTP on loopback: no redirect to https (a TLS proxy is not part of this).
            cwd=ROOT, env={**os.environ, "GUNICORN_BIND": f"127.0.0.1:{WEB_PORT}", "WEB_CONCURRENCY": "2",
                           "SECURE_SSL_REDIRECT": "false"},
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.statuses: collections.Counter[int] = collections.Counter()
        self._stop = threading.Event()
        deadline = time.monotonic() + 60
        while self.ask() != 401:
            if time.monotonic() > deadline or self.process.poll() is not None:
                os.killpg(self.process.pid, signal.SIGTERM)
                raise SystemExit("gunicorn did not start")
            time.sleep(0.5)
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def ask(self) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{WEB_PORT}/api/v1/tenants/", headers={"Authorization": "Token " + "0" * 40}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            return 0

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.statuses[self.ask()] += 1
            time.sleep(0.2)

    def take(self) -> collections.Counter[int]:
        taken, self.statuses = self.statuses, collections.Counter()
        return taken

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=15)
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def retrying(what: object, *args: object, **kwargs: object) -> object:
    """The bench's own database work (opening incidents, the carrier's callbacks) is tried again while the
    database is away, as a person or Twilio would."""
    from django.db import InterfaceError, OperationalError, close_old_connections, connection

    deadline = time.monotonic() + 60
    while True:
        try:
            return what(*args, **kwargs)
        except (OperationalError, InterfaceError):
            connection.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
        finally:
            close_old_connections()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--faults", default="postgres,worker,redis")
    parser.add_argument("--trees", type=int, default=30)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mdr-crash-"))
    os.chmod(folder, 0o755)
    postgres, redis = Postgres(folder), Redis(folder)
    postgres.start()
    redis.start()
    try:
        os.environ.update(
            DATABASE_URL=f"postgres://postgres@127.0.0.1:{PG_PORT}/crash",
            CELERY_BROKER_URL=f"redis://127.0.0.1:{REDIS_PORT}/0",
            SWEEP_INTERVAL_SECONDS="2",
            ACTION_RETRY_BASE_SECONDS="1",
            # A tree is one round of calls; a call whose final status is late is asked about 5 s after its
            # ring timeout; a call that reached nobody is tried again 2 s later.
            RENOTIFY_ROUNDS="0",
            CALL_STATUS_GRACE_SECONDS="5",
            CALL_RETRY_BASE_SECONDS="2",
        )
        configure(cps=10, var_dir=folder)
        ok = True
        with TimedTwilio(on_call=nobody_answers) as twilio:
            workers, web = Workers(folder), None
            try:
                workers.start_all()
                web = Web(folder)
                for fault in args.faults.split(","):
                    ok &= run_fault(fault, args.trees, postgres, redis, workers, web, twilio)
            finally:
                if web is not None:
                    web.stop()
                workers.stop()
        print(f"logs: {folder}")
    finally:
        redis.kill()
        postgres.stop("immediate")
    sys.exit(0 if ok else 1)


def nobody_answers(attempt_id: int, sid: str) -> None:
    """The carrier's part: each call rings out unanswered and Twilio says so in the status callback."""
    from escalation.calls.progress import call_update

    def ring_out() -> None:
        retrying(call_update, attempt_id=attempt_id, status="no-answer")

    timer = threading.Timer(RING_SECONDS, ring_out)
    timer.daemon = True
    timer.start()


def customers(trees: int, label: str) -> list[object]:
    from tenants.models import ResponseMode
    from tenants.services import contact_create, tenant_create, tenant_update_settings

    made = []
    for n in range(trees):
        tenant = tenant_create(name=f"{label} {n}", slug=f"{label}-{n}", tier="complete", by=None)
        contact_create(
            tenant=tenant, by=None, name=f"Contact {label} {n}", email=f"c@{label}{n}.example",
            phone=f"+1202{200 + zlib.crc32(label.encode()) % 800:03d}{n:04d}",
        )  # fmt: skip
        tenant_update_settings(
            tenant=tenant, by=None, response_mode=ResponseMode.AUTHORIZE, ring_timeout_seconds=10
        )
        made.append(tenant)
    return made


def open_incident(tenant: object, isolate: object) -> tuple[int, int]:
    from escalation.runs.services import notification_start
    from incidents.actions import action_propose
    from incidents.services import incident_open
    from mdrportal.core.retry import retried_atomic

    @retried_atomic
    def opened() -> tuple[int, int]:
        incident = incident_open(tenant=tenant, title="Ransomware", severity="critical", by=None)
        action = action_propose(incident=incident, action_type=isolate, target="WS-0142", by=None)
        notification_start(incident=incident, by=None)
        return incident.pk, action.pk

    return opened()


def run_fault(
    fault: str,
    trees: int,
    postgres: Postgres,
    redis: Redis,
    workers: Workers,
    web: Web,
    twilio: TimedTwilio,
) -> bool:
    from incidents.selectors import action_type_by_code

    tenants = customers(trees, f"crash-{fault}")
    isolate = action_type_by_code("isolate_endpoint")
    web.take()
    calls_before = len(twilio.arrived())
    opened: list[tuple[int, int]] = []

    def burst() -> None:
        for tenant in tenants:
            opened.append(retrying(open_incident, tenant, isolate))

    opener = threading.Thread(target=burst)
    started = time.monotonic()
    opener.start()
    time.sleep(1.0)  # in the middle of the burst
    exited_by_itself: list[str] = []
    if fault == "postgres":
        postgres.stop("immediate")
        time.sleep(5)
        postgres.start()
    elif fault == "worker":
        for kind in ("dial", "runs"):
            workers.kill(kind)
        time.sleep(2)
        for kind in ("dial", "runs"):
            workers.start(kind)
    elif fault == "redis":
        for _ in range(3):
            redis.kill()
            time.sleep(3)
            redis.start()
            time.sleep(4)
    else:
        raise SystemExit(f"no such fault: {fault}")
    opener.join()
    done = settle(opened, started)
    exited_by_itself = workers.exited()
    # New work after the fault, on the same workers: one more tree and isolation, done end to end.
    after_started = time.monotonic()
    after = settle([retrying(open_incident, customers(1, f"after-{fault}")[0], isolate)], after_started)
    print(f"[{fault}] a tree opened after the fault: {'done' if after else 'NOT done'} in "
          f"{time.monotonic() - after_started:.1f} s")  # fmt: skip
    done &= after
    for kind in exited_by_itself:
        workers.start(kind)  # for the next fault
    isolations = isolations_in_logs(workers.log_dir)
    return report(fault, trees, opened, isolations, twilio, calls_before, web.take(), exited_by_itself, done)


def isolations_in_logs(log_dir: Path) -> collections.Counter[int]:
    """The simulated EDR's calls, one log line each (incidents.connectors.simulated), by action."""
    found: collections.Counter[int] = collections.Counter()
    for log in log_dir.glob("*.log"):
        for match in re.finditer(rb"simulated action (\d+) attempt", log.read_bytes()):
            found[int(match[1])] += 1
    return found


def settle(opened: list[tuple[int, int]], started: float) -> bool:
    """Wait until every isolation is done and every tree has ended (or the time is up)."""
    from escalation.models import NotificationRun, RunState
    from incidents.models import ResponseAction

    actions = [a for _, a in opened]
    incidents = [i for i, _ in opened]
    deadline = started + SETTLE_SECONDS
    while time.monotonic() < deadline:
        pending = retrying(
            lambda: (
                ResponseAction.objects.filter(pk__in=actions).exclude(status="succeeded").count()
                + NotificationRun.objects.filter(incident_id__in=incidents, state=RunState.ACTIVE).count()
            )
        )
        if pending == 0:
            return True
        time.sleep(1)
    return False


def report(
    fault: str,
    trees: int,
    opened: list[tuple[int, int]],
    isolations: collections.Counter[int],
    twilio: TimedTwilio,
    calls_before: int,
    statuses: collections.Counter[int],
    exited: list[str],
    done: bool,
) -> bool:
    from escalation.models import CallAttempt, NotificationRun, RunState
    from incidents.models import ResponseAction

    actions = [a for _, a in opened]
    incidents = [i for i, _ in opened]
    once = sum(1 for a in actions if isolations[a] == 1)
    more = sum(1 for a in actions if isolations[a] > 1)
    never = sum(1 for a in actions if isolations[a] == 0)
    # Calls: what reached Twilio per number, against what the trees' plans ask for that contact.
    attempts = [a for _, a in twilio.arrived()[calls_before:]]
    to = dict(
        CallAttempt.objects.filter(pk__in=attempts, run__incident_id__in=incidents).values_list("pk", "to")
    )
    placed = collections.Counter(to[a] for a in attempts if a in to)
    asked: collections.Counter[str] = collections.Counter()
    for run in NotificationRun.objects.filter(incident_id__in=incidents).prefetch_related("calls"):
        phones = {c.contact_id: c.to for c in run.calls.all()}
        for step in run.plan:
            if step["contact"] in phones:
                asked[phones[step["contact"]]] += 1
    extra = sum(max(0, placed[number] - asked[number]) for number in placed)
    short = sum(max(0, asked[number] - placed[number]) for number in asked)
    lost = ResponseAction.objects.filter(pk__in=actions).exclude(status="succeeded").count()
    lost += NotificationRun.objects.filter(incident_id__in=incidents, state=RunState.ACTIVE).count()
    bad_5xx = sum(n for status, n in statuses.items() if status >= 500 and status != 503)
    print(f"[{fault}] trees opened {len(opened)}/{trees}; isolations asked of the EDR exactly once {once} "
          f"(expected {trees}), more than once {more} (a repeat carries the action's Idempotency-Key: the "
          f"platform drops it), never {never}")  # fmt: skip
    print(f"[{fault}] calls placed {sum(placed.values())} for {sum(asked.values())} asked by the trees' plans: "
          f"contacts phoned more than asked {extra} calls, fewer {short}")  # fmt: skip
    print(f"[{fault}] tasks lost (isolation not done or tree not ended after {SETTLE_SECONDS} s): {lost}; "
          f"web answers {json.dumps(dict(sorted(statuses.items())))} (5xx other than 503: {bad_5xx}); "
          f"workers that exited by themselves: {', '.join(exited) or 'none'}")  # fmt: skip
    return done and never == 0 and extra == 0 and lost == 0 and bad_5xx == 0 and not exited


if __name__ == "__main__":
    main()
