"""/metrics: Prometheus text for a scraper with the token; numbers read from the database at scrape time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from escalation.models import CallAttempt, CallOutcome
from incidents.models import ActionAttempt, AttemptOutcome, Incident, ResponseAction
from mdrportal.celery import app
from mdrportal.core import task_names
from operations.services import heartbeat_record
from tenants.models import ResponseMode
from tests.factories import make_incident, make_tenant, propose
from tests.fakes.twilio import TwilioWebhooks, call_dialing, use_twilio_account

pytestmark = pytest.mark.django_db
TOKEN = "scrape-token-0123456789"


@pytest.fixture(autouse=True)
def metrics_on(settings) -> None:
    settings.METRICS_TOKEN = TOKEN


def scrape(client) -> dict[str, dict[tuple, float]]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def test_metrics_need_the_token(client, settings) -> None:
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_calls_actions_fallbacks_and_durations_come_from_the_rows(client) -> None:
    incident = make_incident(make_tenant(mode=ResponseMode.AUTHORIZE))
    call = call_dialing(incident, backend="simulated")
    CallAttempt.objects.filter(pk=call.pk).update(
        outcome=CallOutcome.NO_ANSWER, placed_at=incident.opened_at + timedelta(seconds=40)
    )
    action = propose(incident, "isolate_endpoint")
    ActionAttempt.objects.create(
        action=action,
        number=1,
        connector="simulated",
        outcome=AttemptOutcome.SUCCEEDED,
        finished_at=incident.opened_at + timedelta(seconds=200),
    )
    Incident.objects.filter(pk=incident.pk).update(fallback_taken_at=timezone.now())
    old = make_incident(make_tenant())
    Incident.objects.filter(pk=old.pk).update(opened_at=timezone.now() - timedelta(days=8))
    heartbeat_record(name=task_names.ESCALATION_SWEEP, at=timezone.now() - timedelta(seconds=30))

    samples = scrape(client)

    assert samples["mdr_calls_total"][(("outcome", "no_answer"),)] == 1
    assert samples["mdr_calls_total"][(("outcome", "busy"),)] == 0
    assert samples["mdr_calls_open"][(("outcome", "dialing"),)] == 0
    assert (("outcome", "dialing"),) not in samples["mdr_calls_total"]
    assert samples["mdr_fallbacks_total"][()] == 1
    status = ResponseAction.objects.get(pk=action.pk).status
    assert (
        samples["mdr_actions"][(("status", status),)] == ResponseAction.objects.filter(status=status).count()
    )
    assert samples["mdr_actions"][(("status", "declined"),)] == 0
    first_call = samples["mdr_incident_open_to_first_call_seconds_bucket"]
    assert first_call[(("le", "30.0"),)] == 0 and first_call[(("le", "60.0"),)] == 1
    assert samples["mdr_incident_open_to_first_call_seconds_count"][()] == 1  # not the 8-day-old one
    containment = samples["mdr_incident_open_to_containment_seconds_bucket"]
    assert containment[(("le", "120.0"),)] == 0 and containment[(("le", "300.0"),)] == 1
    assert samples["mdr_incident_open_to_containment_seconds_sum"][()] == pytest.approx(200)
    assert 29 <= samples["mdr_sweeper_lag_seconds"][(("sweeper", task_names.ESCALATION_SWEEP),)] < 60


def test_queue_depth_is_read_from_the_broker(client) -> None:
    with app.connection_for_write() as connection:
        app.control.purge(connection=connection)
    app.send_task(task_names.EMAIL_SEND, args=[0])
    app.send_task(task_names.EMAIL_SEND, args=[0])
    app.send_task(task_names.ACTION_RUN, args=[0])
    try:
        depth = scrape(client)["mdr_queue_depth"]
        assert depth[(("queue", "mail"),)] == 2
        assert depth[(("queue", "actions"),)] == 1
        assert depth[(("queue", "dial"),)] == 0
    finally:
        with app.connection_for_write() as connection:
            app.control.purge(connection=connection)


def test_refused_webhook_signatures_are_counted(client, settings) -> None:
    use_twilio_account(settings)
    call = call_dialing(make_incident(make_tenant()))
    key = (("provider", "twilio"),)
    before = scrape(client).get("mdr_webhook_signature_failures_total", {}).get(key, 0)
    assert TwilioWebhooks(client).voice(call).status_code == 200
    assert TwilioWebhooks(client, token="not-the-token").voice(call).status_code == 403
    assert scrape(client)["mdr_webhook_signature_failures_total"][key] == before + 1
