"""Reports: each figure's definition, pinned on hand-made incidents whose facts are written at known times."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from escalation.runs.lifecycle import incident_change_status
from incidents.models import EventKind, Incident, TimelineEvent
from incidents.services import incident_open
from incidents.timeline_writes import timeline_record
from reports.figures import incidents_with_figures
from reports.percentiles import percentile
from reports.periods import days
from reports.selectors import report_read
from tenants.selectors import tenants_for_user
from tests.factories import as_user, make_analyst, make_lead, make_member, make_tenant, portal, propose

pytestmark = pytest.mark.django_db

MINUTE = 60.0


def opened(tenant: Any, *, detected_ago: timedelta, severity: str = "critical") -> Incident:
    return incident_open(
        tenant=tenant,
        title="Ransomware on WS-0142",
        severity=severity,
        by=None,
        detected_at=timezone.now() - detected_ago,
    )


def fact(incident: Incident, kind: str, later: timedelta, /, **data: Any) -> TimelineEvent:
    """A fact recorded the given time after the incident's detection."""
    assert incident.detected_at is not None
    return timeline_record(
        incident=incident,
        kind=kind,
        at=incident.detected_at + later,
        summary=kind,
        label="test",
        data=data,
    )


def figures_of(incident: Incident) -> Any:
    return incidents_with_figures(Incident.objects.filter(pk=incident.pk)).get()


def test_an_acknowledgment_7_minutes_after_detection_is_a_time_to_acknowledge_of_7_minutes() -> None:
    incident = opened(make_tenant(), detected_ago=timedelta(hours=3))
    fact(incident, EventKind.ACKNOWLEDGED, timedelta(minutes=7))
    fact(incident, EventKind.ACKNOWLEDGED, timedelta(minutes=2, hours=1))  # a later one changes nothing
    assert figures_of(incident).acknowledge_seconds == pytest.approx(7 * MINUTE, abs=0.01)


def test_detection_given_by_the_pipeline_starts_the_clock_not_the_opening() -> None:
    incident = opened(make_tenant(), detected_ago=timedelta(minutes=40))
    # Opened 40 minutes after detection; acknowledged 5 minutes after opening: 45 minutes after detection.
    timeline_record(
        incident=incident,
        kind=EventKind.ACKNOWLEDGED,
        at=incident.opened_at + timedelta(minutes=5),
        summary="ack",
        label="test",
    )
    assert figures_of(incident).acknowledge_seconds == pytest.approx(45 * MINUTE, abs=0.01)


def test_detection_after_the_opening_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        incident_open(
            tenant=make_tenant(),
            title="From the future",
            by=None,
            detected_at=timezone.now() + timedelta(minutes=5),
        )
    assert "detected_at" in refused.value.message_dict


def test_the_api_refuses_a_detection_after_the_opening_with_a_field_error() -> None:
    tenant = make_tenant()
    later = (timezone.now() + timedelta(hours=1)).isoformat()
    response = as_user(make_analyst()).post(
        "/api/v1/incidents/",
        {"tenant": tenant.pk, "title": "x", "severity": "high", "detected_at": later},
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert "detected_at" in response.json()
    assert not Incident.objects.exists()


def test_the_api_keeps_the_pipelines_detection_time() -> None:
    tenant = make_tenant()
    earlier = timezone.now() - timedelta(minutes=12)
    response = as_user(make_analyst()).post(
        "/api/v1/incidents/",
        {"tenant": tenant.pk, "title": "x", "severity": "high", "detected_at": earlier.isoformat()},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert Incident.objects.get().detected_at == earlier


def test_time_to_decide_is_the_first_written_decision_or_the_fallback() -> None:
    tenant = make_tenant()
    written = opened(tenant, detected_ago=timedelta(hours=2))
    fact(written, EventKind.ACKNOWLEDGED, timedelta(minutes=3))  # an acknowledgment is not a decision
    fact(written, EventKind.AUTHORIZATION_DECLINED, timedelta(minutes=11))
    fact(written, EventKind.AUTHORIZATION_GIVEN, timedelta(minutes=15))
    fell_back = opened(tenant, detected_ago=timedelta(hours=2))
    fact(fell_back, EventKind.FALLBACK_TAKEN, timedelta(minutes=25))
    assert figures_of(written).decide_seconds == pytest.approx(11 * MINUTE, abs=0.01)
    assert figures_of(fell_back).decide_seconds == pytest.approx(25 * MINUTE, abs=0.01)


def test_time_to_contain_is_the_first_containment_action_that_succeeded() -> None:
    incident = opened(make_tenant(), detected_ago=timedelta(hours=2))
    scan = propose(incident, "clean_malware")  # neutralization: not containment
    isolate = propose(incident, "isolate_endpoint")
    fact(incident, EventKind.ACTION_SUCCEEDED, timedelta(minutes=4), action=scan.pk)
    fact(incident, EventKind.ACTION_FAILED, timedelta(minutes=6), action=isolate.pk)
    fact(incident, EventKind.ACTION_SUCCEEDED, timedelta(minutes=9), action=isolate.pk)
    row = figures_of(incident)
    assert row.contain_seconds == pytest.approx(9 * MINUTE, abs=0.01)
    assert row.outcome == "contained"


def test_an_incident_without_containment_has_no_time_to_contain() -> None:
    incident = opened(make_tenant(), detected_ago=timedelta(hours=2))
    fact(incident, EventKind.INCIDENT_STATUS, timedelta(minutes=50), before="open", after="closed")
    row = figures_of(incident)
    assert row.contain_seconds is None
    assert row.outcome == "ended_uncontained"


def test_time_to_resolve_is_the_first_move_to_resolved_or_closed() -> None:
    incident = opened(make_tenant(), detected_ago=timedelta(hours=5))
    fact(incident, EventKind.INCIDENT_STATUS, timedelta(minutes=30), before="open", after="contained")
    fact(incident, EventKind.INCIDENT_STATUS, timedelta(hours=2), before="contained", after="resolved")
    fact(incident, EventKind.INCIDENT_STATUS, timedelta(hours=3), before="resolved", after="closed")
    assert figures_of(incident).resolve_seconds == pytest.approx(2 * 3600, abs=0.01)


def test_percentiles_interpolate_as_percentile_cont() -> None:
    assert percentile([7.0, 9.0, 30.0], 0.5) == 9.0
    assert percentile([7.0, 9.0, 30.0], 0.9) == pytest.approx(25.8)
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([], 0.5) is None


def test_the_report_gives_median_and_p90_over_the_incidents_that_reached_the_milestone() -> None:
    tenant = make_tenant()
    for minutes in (7, 9, 30):
        fact(
            opened(tenant, detected_ago=timedelta(hours=1)),
            EventKind.ACKNOWLEDGED,
            timedelta(minutes=minutes),
        )
    opened(tenant, detected_ago=timedelta(hours=1))  # never acknowledged: not in the figure
    opened(tenant, detected_ago=timedelta(hours=1), severity="low")
    today = timezone.now().date()
    report = report_read(tenants=tenants_for_user(make_lead()), period=days(today - timedelta(days=1), today))
    acknowledge = report.durations[0]
    assert (acknowledge.duration.key, acknowledge.count) == ("acknowledge", 3)
    assert acknowledge.median == pytest.approx(9 * MINUTE, abs=0.01)
    assert acknowledge.p90 == pytest.approx(25.8 * MINUTE, abs=0.01)
    assert report.incidents == 5
    assert report.by_severity == [("Critical", 4), ("Low", 1)]
    assert report.by_outcome == [("Still open, not contained", 5)]


def test_a_customers_report_counts_only_its_own_incidents() -> None:
    mine, other = make_tenant(), make_tenant()
    opened(mine, detected_ago=timedelta(minutes=5))
    opened(other, detected_ago=timedelta(minutes=5))
    opened(other, detected_ago=timedelta(minutes=5))
    today = timezone.now().date()
    report = report_read(tenants=tenants_for_user(make_member(mine)), period=days(today, today))
    assert report.incidents == 1


@pytest.mark.usefixtures("fast_passwords")
def test_the_incident_page_shows_resolution_as_a_milestone_from_detection() -> None:
    tenant = make_tenant()
    incident = opened(tenant, detected_ago=timedelta(minutes=30))
    incident_change_status(incident=incident, status="resolved", by=None, reason="Reimaged")
    incident_change_status(incident=incident, status="closed", by=None)
    response = portal(make_member(tenant)).get(reverse("incidents:detail", args=[incident.pk]))
    marks = {m.key: m for m in response.context["milestones"]}
    resolved = marks["resolved"]
    assert resolved.event is not None and resolved.event.data["after"] == "resolved"
    assert timedelta(minutes=30) <= resolved.since_detection < timedelta(minutes=31)
    assert figures_of(incident).resolve_seconds == pytest.approx(resolved.since_detection.total_seconds())


def test_without_a_detection_time_the_clock_starts_at_the_opening() -> None:
    incident = incident_open(tenant=make_tenant(), title="Seen by an analyst", by=None)
    assert incident.detected_at is None
    timeline_record(
        incident=incident,
        kind=EventKind.ACKNOWLEDGED,
        at=incident.opened_at + timedelta(minutes=4),
        summary="ack",
        label="test",
    )
    assert figures_of(incident).acknowledge_seconds == pytest.approx(4 * MINUTE, abs=0.01)
