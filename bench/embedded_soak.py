"""The embedded default (`./run`: SQLite, the filesystem broker, the simulated phone) under a steady stream of
incidents: every few seconds an incident opens at an Authorize customer with an endpoint isolation proposed
and its call tree started, for as long as asked. The portal's processes must stay up (a worker or beat that
exits is started again by ./run, which logs it), /healthz must keep answering 200 and every isolation must run
exactly once.

  bench/embedded-soak [--minutes 30] [--every 5] [--port 18190]

./run is started on a var/ folder of its own (a temporary one) and stopped with SIGTERM at the end; this
process opens the incidents through the portal's services on the same SQLite database, as an analyst would.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def healthz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--every", type=float, default=5, help="seconds between two incidents")
    parser.add_argument("--port", type=int, default=18190)
    args = parser.parse_args()
    var_dir = Path(tempfile.mkdtemp(prefix="mdr-soak-"))
    env = {**os.environ, "MDR_VAR_DIR": str(var_dir), "PORT": str(args.port)}
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)  # the embedded default, whatever this shell has set
    log_path = var_dir / "run.log"
    # SIGTERM (a timeout, a kill) ends this process through the finally below, which stops ./run.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with open(log_path, "wb") as log:
        run = subprocess.Popen(
            [str(ROOT / "run")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while healthz(args.port) != 200:
            if run.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"./run did not come up: see {log_path}")
            time.sleep(1)
        ok = soak(args, env, var_dir, run, log_path)
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        try:
            run.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
    print(f"./run stopped with status {run.returncode}; its log: {log_path}")
    sys.exit(0 if ok else 1)


def soak(
    args: argparse.Namespace, env: dict[str, str], var_dir: Path, run: subprocess.Popen[bytes], log_path: Path
) -> bool:
    # What scripts/dev-env gives ./run's processes.
    os.environ.update(MDR_VAR_DIR=str(var_dir), DEBUG="true", CONNECTOR_ALLOW_LOCAL_URLS="true")
    os.environ["SECRET_KEY"] = (var_dir / "secret_key").read_text().strip()
    os.environ["DJANGO_SETTINGS_MODULE"] = "mdrportal.settings"
    import django

    django.setup()
    from escalation.runs.services import notification_start
    from incidents.actions import action_propose
    from incidents.models import ActionAttempt, ResponseAction
    from incidents.selectors import action_type_by_code
    from incidents.services import incident_open
    from tenants.models import ResponseMode
    from tenants.services import contact_create, tenant_create, tenant_update_settings

    tenant = tenant_create(name="Soak", slug=f"soak-{int(time.time())}", tier="complete", by=None)
    contact_create(
        tenant=tenant, by=None, name="Soak contact", email="soak@example.com", phone="+12025550199"
    )
    tenant_update_settings(tenant=tenant, by=None, response_mode=ResponseMode.AUTHORIZE)
    isolate = action_type_by_code("isolate_endpoint")
    started, unhealthy, opened = time.monotonic(), 0, 0
    actions: list[int] = []
    end = started + args.minutes * 60
    next_report = started + 300
    while time.monotonic() < end:
        if run.poll() is not None:
            print(
                f"./run exited with status {run.returncode} after {(time.monotonic() - started) / 60:.1f} min"
            )
            break
        incident = incident_open(tenant=tenant, title=f"Soak {opened}", severity="high", by=None)
        actions.append(
            action_propose(incident=incident, action_type=isolate, target=f"WS-{opened:04d}", by=None).pk
        )
        notification_start(incident=incident, by=None)
        opened += 1
        if healthz(args.port) != 200:
            unhealthy += 1
        if time.monotonic() >= next_report:
            print(
                f"{(time.monotonic() - started) / 60:.0f} min: {opened} incidents, {restarts(log_path)}",
                flush=True,
            )
            next_report += 300
        time.sleep(args.every)
    minutes = (time.monotonic() - started) / 60
    time.sleep(min(30, args.every * 6))  # the last isolations run
    attempts = dict.fromkeys(actions, 0)
    for action_id in ActionAttempt.objects.filter(action_id__in=actions).values_list("action_id", flat=True):
        attempts[action_id] += 1
    ran = sum(1 for n in attempts.values() if n >= 1)
    twice = sum(1 for n in attempts.values() if n > 1)
    succeeded = ResponseAction.objects.filter(pk__in=actions, status="succeeded").count()
    alive = run.poll() is None
    print(f"{minutes:.1f} min, {opened} incidents (one every {args.every:g} s): isolations run {ran}, "
          f"succeeded {succeeded}, run more than once {twice}; /healthz not 200 {unhealthy} times; "
          f"{restarts(log_path)}; ./run {'still up' if alive else 'EXITED'}")  # fmt: skip
    return alive and twice == 0 and ran == opened and unhealthy == 0


def restarts(log_path: Path) -> str:
    lines = [
        line for line in log_path.read_text(errors="replace").splitlines() if line.startswith("run: the ")
    ]
    exits = [line for line in lines if " exited " in line]
    return f"{len(exits)} restarts by ./run" + (f" (last: {exits[-1]})" if exits else "")


if __name__ == "__main__":
    main()
