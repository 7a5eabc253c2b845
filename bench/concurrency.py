"""Many writers of the same incidents at once, through the real web server and workers, on PostgreSQL + Redis.

  bench/concurrency [--seconds 60] [--clients 8] [--incidents 12]

gunicorn (mdrportal/gunicorn.py, two web processes) and one Celery worker with two processes (and beat) serve
the portal; N clients propose, escalate, acknowledge, authorize, decline, close and reopen the incidents of
Authorize- and Collaborate-mode tenants through the API, as fast as they are answered. A fake Twilio REST API
(bench.fake_twilio) accepts the calls, and this process plays the carrier: for each call, signed status
callbacks in a random order (ringing, answered, a final status, sometimes a 1 pressed), each after a random
delay. Printed, and the command fails unless each is zero: deadlocks PostgreSQL detected
(pg_stat_database.deadlocks), 5xx answers, actions left running past their deadline, actions the platform got
more than one request for, calls placed after an acknowledgment or while the incident was closed, and
fallbacks taken without proof. The target: >= 5,000 operations in 60 s.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import requests

from bench.calls import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, ROOT, TimedTwilio, configure, verdict

WEB_PORT = 18433
WEB = f"http://127.0.0.1:{WEB_PORT}"
# As the TLS-terminating proxy in front of gunicorn says (production settings redirect plain HTTP).
PROXIED = {"X-Forwarded-Proto": "https"}
OPERATIONS = ("propose", "propose", "escalate", "acknowledge", "authorize", "decline", "close", "reopen")
# Every answer a carrier may send about a call, the final one decided per call.
FINAL = ("completed", "no-answer", "busy", "failed")


class Portal:
    """gunicorn and a Celery worker (two processes, with beat), as compose.yaml runs them, in small."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = {
            **os.environ,
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{WEB_PORT}",
            "WEB_CONCURRENCY": "2",
            # The clients are a few users writing as fast as they are answered: no write throttle in the way.
            "API_WRITE_RATE": "100000/min",
            "CACHE_URL": os.environ["CELERY_BROKER_URL"],
        }
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def _start(self, name: str, command: list[str]) -> None:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        self.processes.append(
            subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        )

    def start(self) -> None:
        from mdrportal.celery import app

        with app.connection_for_write() as conn:
            app.control.purge(connection=conn)
        self._start(
            "web", [sys.executable, "-m", "gunicorn", "-c", "mdrportal/gunicorn.py", "mdrportal.wsgi"]
        )
        self._start(
            "worker",
            [sys.executable, "-m", "celery", "-A", "mdrportal", "worker", "--loglevel=WARNING", "--concurrency=2",
             "--hostname", "bench-concurrency@%h", "--beat", "--schedule", str(self.log_dir / "beat-schedule")],
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(
                    f"{WEB}/healthz", headers=PROXIED, timeout=1
                ).status_code < 500 and app.control.ping(timeout=1):
                    return
            except requests.RequestException:
                time.sleep(0.2)
        raise SystemExit(f"the portal did not start: see {self.log_dir}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def deadlocks() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


class Carrier:
    """The carrier's part: signed status callbacks for each call Twilio accepted, out of order, late."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - the order of callbacks, not a secret
        self.session = requests.Session()
        self.answers = Counter()
        self.lock = threading.Lock()

    def post(self, path: str, params: dict[str, str]) -> None:
        from tests.fakes.twilio import twilio_signature

        signature = twilio_signature(WEB + path, params, token=AUTH_TOKEN)
        status = requests.post(
            WEB + path, data=params, headers={**PROXIED, "X-Twilio-Signature": signature}, timeout=30
        )
        with self.lock:
            self.answers[status.status_code // 100 * 100] += 1

    def on_call(self, attempt_id: int, sid: str) -> None:
        base = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "CallSid": sid, "From": FROM_NUMBER}
        final = self.rng.choice(FINAL)
        steps = [("status", "ringing"), ("status", "in-progress"), ("status", final)]
        if final == "completed" and self.rng.random() < 0.5:
            steps.append(("press", "1"))
        self.rng.shuffle(steps)  # Twilio promises no order between its callbacks

        def send() -> None:
            for kind, value in steps:
                time.sleep(self.rng.uniform(0, 0.3))
                if kind == "press":
                    params = {**base, "CallStatus": "in-progress", "Digits": value, "FinishedOnKey": ""}
                    self.post(f"/twilio/gather/{attempt_id}/", params)
                else:
                    extra = {"CallDuration": "17"} if value == "completed" else {}
                    self.post(f"/twilio/status/{attempt_id}/", {**base, "CallStatus": value, **extra})

        threading.Thread(target=send, daemon=True).start()


def seed(incidents: int) -> tuple[list[int], str, dict[int, str]]:
    """Tenants in both modes (half with the no-acknowledgment fallback), an analyst, an approver per tenant;
    the incidents' ids, the analyst's token and each incident's approver's token."""
    from tenants.models import ResponseMode, Role
    from tests.factories import api_token, make_analyst, make_incident, make_member, make_tenant

    analyst = api_token(make_analyst())
    ids, approvers = [], {}
    for n in range(incidents):
        mode = ResponseMode.AUTHORIZE if n % 2 else ResponseMode.COLLABORATE
        tenant = make_tenant(mode=mode, fallback=n % 4 == 0, phones=2)
        incident = make_incident(tenant)
        ids.append(incident.pk)
        approvers[incident.pk] = api_token(make_member(tenant, Role.APPROVER))
    return ids, analyst, approvers


def client_loop(
    seed_: int, stop_at: float, ids: list[int], analyst: str, approvers: dict[int, str], tally: Counter
) -> None:
    rng = random.Random(seed_)  # noqa: S311 - the order of operations, not a secret
    session = requests.Session()
    session.headers.update(PROXIED)
    targets = ["WS-0142", "WS-0143", "LAPTOP-7", "SRV-DB1"]
    while time.monotonic() < stop_at:
        incident, operation = rng.choice(ids), rng.choice(OPERATIONS)
        staff = {"Authorization": f"Token {analyst}"}
        customer = {"Authorization": f"Token {approvers[incident]}"}
        if operation == "propose":
            body = {"action_type": "isolate_endpoint", "target": rng.choice(targets)}
            answer = session.post(f"{WEB}/api/v1/incidents/{incident}/actions/", json=body, headers=staff)
        elif operation == "escalate":
            answer = session.post(f"{WEB}/api/v1/incidents/{incident}/escalate/", headers=staff)
        elif operation == "acknowledge":
            answer = session.post(f"{WEB}/api/v1/incidents/{incident}/acknowledge/", headers=customer)
        elif operation in ("authorize", "decline"):
            listed = session.get(f"{WEB}/api/v1/incidents/{incident}/actions/", headers=customer)
            tally[f"{listed.status_code // 100}xx"] += 1
            rows = listed.json() if listed.status_code == 200 else []
            rows = rows.get("results", rows) if isinstance(rows, dict) else rows
            waiting = [row["id"] for row in rows if row.get("status") == "awaiting_authorization"]
            if not waiting:
                continue
            body = {"statement": "Go ahead." if operation == "authorize" else "Not now."}
            url = f"{WEB}/api/v1/actions/{rng.choice(waiting)}/{operation}/"
            answer = session.post(url, json=body, headers=customer)
        else:
            status = rng.choice(("resolved", "closed")) if operation == "close" else "open"
            body = {"status": status, "reason": "bench"}
            answer = session.patch(f"{WEB}/api/v1/incidents/{incident}/", json=body, headers=staff)
        tally[f"{answer.status_code // 100}xx"] += 1
        tally["operations"] += 1
        if answer.status_code >= 400:
            tally[f"{answer.status_code} {operation}"] += 1


# A decision's timestamp is taken inside its transaction, before it commits; a call claimed meanwhile came
# first in the database's order (the claim saw the incident still active) and is hung up by the stop. A call
# placed later than this after the decision's timestamp came after its commit.
COMMIT_MARGIN = timedelta(milliseconds=200)


def findings(ids: list[int], deadline_seconds: int) -> dict[str, int]:
    """What must be zero, read from the database once the portal has settled."""
    from django.utils import timezone

    from escalation.models import Acknowledgment, CallAttempt
    from incidents.models import (
        ActionAttempt,
        ActionStatus,
        AttemptOutcome,
        EventKind,
        Incident,
        TimelineEvent,
    )

    now = timezone.now()
    overdue = ActionAttempt.objects.filter(
        action__status=ActionStatus.RUNNING,
        outcome="",
        started_at__lt=now - timedelta(seconds=deadline_seconds),
    ).count()
    requests_per_action = Counter(
        ActionAttempt.objects.exclude(outcome=AttemptOutcome.LOST).values_list("action_id", flat=True)
    )
    after_ack = 0
    first_ack: dict[int, object] = {}
    for incident_id, at in (
        Acknowledgment.objects.filter(incident_id__in=ids).order_by("at").values_list("incident_id", "at")
    ):
        first_ack.setdefault(incident_id, at)
    for incident_id, at in first_ack.items():
        calls = CallAttempt.objects.filter(run__incident_id=incident_id, placed_at__gt=at + COMMIT_MARGIN)
        after_ack += calls.count()
    while_closed = 0
    for incident_id in ids:
        changes = TimelineEvent.objects.filter(incident_id=incident_id, kind=EventKind.INCIDENT_STATUS)
        closed_since = None
        for at, data in changes.order_by("at", "pk").values_list("at", "data"):
            if data.get("after") in ("resolved", "closed") and closed_since is None:
                closed_since = at
            elif data.get("after") not in ("resolved", "closed") and closed_since is not None:
                calls = CallAttempt.objects.filter(run__incident_id=incident_id)
                while_closed += calls.filter(
                    placed_at__gt=closed_since + COMMIT_MARGIN, placed_at__lt=at
                ).count()
                closed_since = None
        if closed_since is not None:
            calls = CallAttempt.objects.filter(
                run__incident_id=incident_id, placed_at__gt=closed_since + COMMIT_MARGIN
            )
            while_closed += calls.count()
    unproven = 0
    for incident in Incident.objects.filter(pk__in=ids, fallback_taken_at__isnull=False):
        taken = TimelineEvent.objects.filter(incident=incident, kind=EventKind.FALLBACK_TAKEN).first()
        acked = Acknowledgment.objects.filter(incident=incident, at__lt=incident.fallback_taken_at).exists()
        decided = incident.authorizations.filter(at__lt=incident.fallback_taken_at).exists()
        unproven += taken is None or not taken.data.get("attempts") or acked or decided
    return {
        "actions running past their deadline": overdue,
        "actions with more than one platform request": sum(1 for n in requests_per_action.values() if n > 1),
        "calls placed after an acknowledgment": after_ack,
        "calls placed while the incident was closed": while_closed,
        "fallbacks without proof": unproven,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--incidents", type=int, default=12)
    parser.add_argument("--settle", type=float, default=20, help="seconds for the workers to finish after")
    parser.add_argument("--min-operations", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as logs:
        env = configure(cps=50, var_dir=Path(logs))
        os.environ["PUBLIC_BASE_URL"] = env["PUBLIC_BASE_URL"] = WEB
        from django.conf import settings
        from django.db import close_old_connections

        ids, analyst, approvers = seed(args.incidents)
        carrier = Carrier(seed=1)
        portal = Portal(env, Path(logs))
        tallies: list[Counter] = [Counter() for _ in range(args.clients)]
        with TimedTwilio(on_call=carrier.on_call) as twilio:
            portal.start()
            try:
                before = deadlocks()
                stop_at = time.monotonic() + args.seconds
                clients = [
                    threading.Thread(
                        target=client_loop, args=(n, stop_at, ids, analyst, approvers, tallies[n])
                    )
                    for n in range(args.clients)
                ]
                started = time.monotonic()
                for client in clients:
                    client.start()
                for client in clients:
                    client.join()
                took = time.monotonic() - started
                tally = sum(tallies, Counter())
                time.sleep(args.settle)
                found = {"deadlocks (pg_stat_database)": deadlocks() - before}
                found["5xx answers (clients)"] = sum(n for k, n in tally.items() if k == "5xx")
                found["5xx answers (carrier callbacks)"] = carrier.answers[500]
                found.update(findings(ids, settings.ACTION_RUN_TIMEOUT_SECONDS))
            finally:
                portal.stop()
                close_old_connections()
        if found["5xx answers (clients)"] or found["5xx answers (carrier callbacks)"]:
            print(f"server errors: see {logs}/web.log", file=sys.stderr)
            print((Path(logs) / "web.log").read_text()[-4000:], file=sys.stderr)
        done = tally["operations"]
        print(f"{done} operations by {args.clients} clients in {took:.1f} s ({done / took:.0f}/s); answers: "
              + ", ".join(f"{k} {n}" for k, n in sorted(tally.items()) if k.endswith("xx")))  # fmt: skip
        print(f"calls accepted by the fake Twilio: {len(twilio.arrived())}; carrier callbacks: "
              + ", ".join(f"{k // 100}xx {n}" for k, n in sorted(carrier.answers.items())))  # fmt: skip
        refused = {k: n for k, n in tally.items() if k[:1] in "45" and not k.endswith("xx")}
        print(
            "refused or failed, by answer and operation: "
            + ", ".join(f"{k} {n}" for k, n in sorted(refused.items()))
        )
        for what, count in found.items():
            print(f"{what}: {count}")
        ok = all(count == 0 for count in found.values())
        enough = done >= args.min_operations
        print(
            f"all zero: {verdict(ok)}; operations {done} (target >= {args.min_operations}): {verdict(enough)}"
        )
        if not (ok and enough):
            raise SystemExit(1)


if __name__ == "__main__":
    main()
