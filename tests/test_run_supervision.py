"""./run, the embedded default: a worker that dies is started again while the web keeps answering, and SIGTERM
still stops everything."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.http_server import closed_port_url
from tests.worker import wait_for

ROOT = Path(__file__).resolve().parent.parent


def healthz(port: int) -> int:
    """/healthz's status; 0 when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def worker_pid(run: subprocess.Popen[bytes]) -> int | None:
    return next((p for p in children(run.pid) if " worker " in command_line(p)), None)


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    port = int(closed_port_url().rsplit(":", 1)[1])
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(PORT=str(port), MDR_VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="mdrportal.settings")
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        run = subprocess.Popen(
            [str(ROOT / "run")],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: healthz(port) == 200, timeout=240, what="./run to serve /healthz")
        yield run, port, log
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=30)


def test_a_killed_worker_is_started_again_while_the_web_keeps_answering(portal) -> None:
    run, port, log = portal
    wait_for(lambda: worker_pid(run) is not None, what="the worker")
    killed = worker_pid(run)
    assert killed is not None
    os.kill(killed, signal.SIGKILL)

    answers = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        answers.append(healthz(port))
        restarted = worker_pid(run)
        if restarted not in (None, killed) and log.read_bytes().count(b"ready.") >= 2:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"the worker was not started again:\n{log.read_text()[-3000:]}")
    assert b"run: the worker exited (status 137); starting it again" in log.read_bytes()
    assert set(answers) == {200}  # the web server kept answering, and healthy
    assert run.poll() is None

    os.killpg(run.pid, signal.SIGTERM)
    assert run.wait(timeout=30) != 0
    wait_for(lambda: not group_alive(run.pid), timeout=10, what="every process of ./run to exit")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
