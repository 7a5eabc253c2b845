"""/healthz: 200 when the database, the broker and both sweepers are fine, 503 naming the part that is not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from escalation.tasks import escalation_sweep
from incidents.tasks import actions_sweep
from mdrportal.core import task_names
from operations.models import Heartbeat
from operations.services import SWEEPERS, heartbeat_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def sweepers_ran() -> None:
    for name in SWEEPERS:
        heartbeat_record(name=name)


def test_a_healthy_deployment_answers_200(client, sweepers_ran) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["failing"] == []
    assert set(response.json()["checks"]) == {"database", "broker", "sweeper"}
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_sweeper_silent_for_three_intervals_makes_it_503(client, settings, sweepers_ran) -> None:
    settings.SWEEP_INTERVAL_SECONDS = 5
    heartbeat_record(name=task_names.ACTIONS_SWEEP, at=timezone.now() - timedelta(seconds=16))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["sweeper"]
    assert "incidents.actions_sweep: last ran 16 s ago (limit 15 s)" in body["checks"]["sweeper"]["detail"]
    heartbeat_record(name=task_names.ACTIONS_SWEEP, at=timezone.now() - timedelta(seconds=14))
    assert client.get("/healthz").status_code == 200


def test_a_sweeper_that_never_ran_makes_it_503_logged_as_a_warning(client, caplog) -> None:
    body = client.get("/healthz").json()
    assert [r.levelname for r in caplog.records if "health check failing" in r.getMessage()] == ["WARNING"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert (
        body["failing"] == ["sweeper"]
        and "escalation.escalation_sweep: never ran" in body["checks"]["sweeper"]["detail"]
    )


def test_an_unreachable_broker_makes_it_503_naming_the_broker_without_its_error_text(
    client, settings, sweepers_ran, caplog
) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/11"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]
    detail = response.json()["checks"]["broker"]["detail"]
    assert detail == "unreachable (the logs say why)"
    for hidden in ("ConnectionError", "127.0.0.1", "Error"):
        assert hidden not in response.content.decode()
    assert "ConnectionError" in caplog.text  # the logs keep the cause


def test_an_operator_with_the_metrics_token_reads_the_error_text(client, settings, sweepers_ran) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/11"
    settings.METRICS_TOKEN = "s3cret-metrics"

    wrong = client.get("/healthz", HTTP_AUTHORIZATION="Bearer guess").json()
    right = client.get("/healthz", HTTP_AUTHORIZATION="Bearer s3cret-metrics").json()

    assert "ConnectionError" not in wrong["checks"]["broker"]["detail"]
    assert "ConnectionError" in right["checks"]["broker"]["detail"]


def test_a_failing_database_check_shows_anyone_no_error_text(client, sweepers_ran, monkeypatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError('connection to server at "10.9.8.7" failed for user "mdr_owner"')

    monkeypatch.setattr("django.db.backends.utils.CursorWrapper.execute", broken)
    response = client.get("/healthz")

    assert response.status_code == 503 and "database" in response.json()["failing"]
    assert response.json()["checks"]["database"]["detail"] == "unreachable (the logs say why)"
    assert "10.9.8.7" not in response.content.decode() and "mdr_owner" not in response.content.decode()


def test_probes_are_answered_by_address_over_plain_http_in_production(client, settings, sweepers_ran) -> None:
    # Orchestrators probe the pod's address over HTTP: no allowed-host refusal, no redirect to https.
    settings.SECURE_SSL_REDIRECT, settings.ALLOWED_HOSTS = True, ["portal.example.com"]
    assert client.get("/healthz", HTTP_HOST="10.1.2.3:8000").status_code == 200
    assert client.get("/", HTTP_HOST="10.1.2.3:8000").status_code == 400


def test_a_sweep_that_finished_records_its_heartbeat() -> None:
    before = timezone.now()
    escalation_sweep.apply()
    actions_sweep.apply()
    beats = dict(Heartbeat.objects.values_list("name", "beat_at"))
    assert set(beats) == set(SWEEPERS) and all(at >= before for at in beats.values())


def test_many_heartbeats_keep_one_row_per_sweeper() -> None:
    for _ in range(3):
        heartbeat_record(name=task_names.ESCALATION_SWEEP)
    assert Heartbeat.objects.filter(name=task_names.ESCALATION_SWEEP).count() == 1
