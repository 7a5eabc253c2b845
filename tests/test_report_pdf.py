"""Reports as PDF, read back with pdftotext (poppler-utils): the figures, and every event of an incident."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import Authorization, Channel, EventKind, TimelineEvent
from incidents.services import incident_open
from incidents.timeline_writes import timeline_record
from tests.factories import first_contact, make_member, make_tenant, portal

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("fast_passwords"),
    pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs pdftotext (poppler-utils)"),
]


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    return subprocess.run(
        ["pdftotext", "-", "-"], input=content, capture_output=True, check=True
    ).stdout.decode()


def test_the_report_pdf_prints_the_figures_and_their_definitions() -> None:
    tenant = make_tenant()
    incident = incident_open(
        tenant=tenant, title="Ransomware", by=None, detected_at=timezone.now() - timedelta(hours=1)
    )
    assert incident.detected_at is not None
    timeline_record(
        incident=incident,
        kind=EventKind.ACKNOWLEDGED,
        at=incident.detected_at + timedelta(minutes=7),
        summary="Acknowledged",
        label="test",
    )
    response = portal(make_member(tenant)).get(reverse("reports:pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert "Time to acknowledge" in text
    assert "7 min 00 s" in text
    assert "From detection to the first acknowledgment by any channel" in text
    assert "Page 1 of" in text


def test_an_incidents_pdf_holds_every_one_of_300_events_its_authorization_and_its_fallbacks_proof() -> None:
    tenant = make_tenant(fallback=True)
    incident = incident_open(tenant=tenant, title="Lateral movement", by=None)
    start = timezone.now()
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            incident=incident,
            kind=EventKind.CALL_ATTEMPT,
            at=start + timedelta(seconds=n),
            summary=f"Call attempt E{n:03d} rang out",
            actor_label="system",
        )
        for n in range(1, 300)
    )
    timeline_record(
        incident=incident,
        kind=EventKind.FALLBACK_TAKEN,
        at=start + timedelta(minutes=10),
        summary="Nobody acknowledged after 2 call attempts",
        label="system",
        data={
            "attempts": [
                {
                    "contact": "Contact A",
                    "to": "+12025550100",
                    "try": 1,
                    "provider_sid": "CA00fa11",
                    "outcome": "no_answer",
                },
                {
                    "contact": "Contact B",
                    "to": "+12025550101",
                    "try": 1,
                    "provider_sid": "CA00fa12",
                    "outcome": "voicemail",
                },
            ]
        },
    )
    Authorization.objects.create(
        incident=incident,
        decision=Authorization.Decision.GRANTED,
        scope=[],
        contact=first_contact(tenant),
        channel=Channel.PORTAL,
        text_shown="I authorize MDR Ops to isolate WS-0142.",
        statement="Go ahead, isolate it now.",
    )
    assert incident.events.count() == 301
    response = portal(make_member(tenant)).get(reverse("reports:incident_pdf", args=[incident.pk]))
    assert response.status_code == 200
    text = pdf_text(response.content)
    missing = [n for n in range(1, 300) if f"E{n:03d}" not in text]
    assert missing == []
    assert "Incident opened" in text
    assert "Every event (301)" in text
    assert "Go ahead, isolate it now." in text
    assert "I authorize MDR Ops to isolate WS-0142." in text
    assert "CA00fa11" in text and "CA00fa12" in text
