"""Reports: the page, its CSV and its JSON, for customers, partners and MDR leads, each over its own tenants."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.models import EventKind, Incident
from incidents.services import incident_open
from incidents.timeline_writes import timeline_record
from tenants.models import Role
from tests.factories import (
    as_user,
    make_lead,
    make_member,
    make_partner,
    make_partner_user,
    make_tenant,
    portal,
    propose,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def acknowledged_after(tenant: Any, minutes: int, *, severity: str = "critical") -> Incident:
    """An incident detected an hour ago, acknowledged the given minutes after detection."""
    incident = incident_open(
        tenant=tenant,
        title=f"Acknowledged after {minutes} min",
        severity=severity,
        by=None,
        detected_at=timezone.now() - timedelta(hours=1),
    )
    assert incident.detected_at is not None
    timeline_record(
        incident=incident,
        kind=EventKind.ACKNOWLEDGED,
        at=incident.detected_at + timedelta(minutes=minutes),
        summary="Acknowledged",
        label="test",
    )
    return incident


def csv_rows(response: Any) -> list[dict[str, str]]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_a_customer_viewer_reads_its_tenants_figures_with_their_definitions() -> None:
    tenant, other = make_tenant(), make_tenant()
    acknowledged_after(tenant, 7)
    acknowledged_after(other, 30)
    page = portal(make_member(tenant, Role.VIEWER)).get(reverse("reports:page"))
    assert page.status_code == 200
    html = page.content.decode()
    assert '<strong id="total">1</strong>' in html
    row = html.split('id="duration-acknowledge"')[1].split("</tr>")[0]
    assert "<td>7 min 00 s</td>" in row
    assert "From detection to the first acknowledgment by any channel" in html
    assert "<svg" in html and "Week of" in html


def test_a_partner_user_reads_all_its_customers_together_and_each_alone() -> None:
    partner = make_partner()
    first, second = make_tenant(partner=partner), make_tenant(partner=partner)
    elsewhere = make_tenant()
    acknowledged_after(first, 4)
    acknowledged_after(second, 10)
    acknowledged_after(elsewhere, 60)
    client = portal(make_partner_user(partner))
    together = client.get(reverse("reports:page"))
    assert '<strong id="total">2</strong>' in together.content.decode()
    alone = client.get(reverse("reports:page"), {"period": "this_month", "tenant": second.pk})
    assert '<strong id="total">1</strong>' in alone.content.decode()
    refused = client.get(reverse("reports:page"), {"period": "this_month", "tenant": elsewhere.pk})
    assert refused.status_code == 400
    assert "Select a valid choice" in refused.content.decode()


def test_an_mdr_lead_reads_every_tenant() -> None:
    for tenant, minutes in ((make_tenant(), 3), (make_tenant(), 5), (make_tenant(), 20)):
        acknowledged_after(tenant, minutes)
    body = as_user(make_lead()).get("/api/v1/reports/").json()
    assert body["incidents"] == 3
    assert body["durations"]["acknowledge"]["median_seconds"] == pytest.approx(300, abs=0.01)
    assert body["durations"]["acknowledge"]["incidents"] == 3
    assert body["by_severity"] == {"Critical": 3}


def test_the_api_refuses_another_tenant_and_a_backwards_range_with_field_errors() -> None:
    mine, other = make_tenant(), make_tenant()
    api = as_user(make_member(mine))
    response = api.get("/api/v1/reports/", {"tenant": other.pk})
    assert response.status_code == 400
    assert "tenant" in response.json()
    response = api.get("/api/v1/reports/", {"period": "range", "start": "2026-03-10", "end": "2026-03-01"})
    assert response.status_code == 400
    assert response.json()["end"] == ["The last day cannot come before the first."]


def test_last_month_leaves_out_this_months_incidents() -> None:
    tenant = make_tenant()
    acknowledged_after(tenant, 7)
    body = as_user(make_member(tenant)).get("/api/v1/reports/", {"period": "last_month"}).json()
    assert body["incidents"] == 0
    assert body["durations"]["acknowledge"]["median_seconds"] is None


def test_the_csv_has_one_row_per_incident_with_each_figure_as_a_column() -> None:
    tenant = make_tenant()
    first = acknowledged_after(tenant, 7)
    second = acknowledged_after(tenant, 12, severity="low")
    acknowledged_after(make_tenant(), 1)  # another tenant's: not in it
    response = portal(make_member(tenant)).get(reverse("reports:csv"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = csv_rows(response)
    assert [(r["incident"], r["severity"], r["time_to_acknowledge_seconds"]) for r in rows] == [
        (str(first.pk), "critical", "420"),
        (str(second.pk), "low", "720"),
    ]
    assert rows[0]["time_to_contain_seconds"] == ""
    assert rows[0]["outcome"] == "ongoing"


def test_a_csv_cell_that_a_spreadsheet_would_run_is_written_as_text() -> None:
    tenant = make_tenant()
    incident = acknowledged_after(tenant, 1)
    Incident.objects.filter(pk=incident.pk).update(title='=HYPERLINK("http://x")')
    rows = csv_rows(portal(make_member(tenant)).get(reverse("reports:csv")))
    assert rows[0]["title"].startswith("'=")


def test_the_report_page_reads_in_a_number_of_queries_that_does_not_grow_with_the_incidents() -> None:
    tenant = make_tenant()
    client = portal(make_member(tenant))
    acknowledged_after(tenant, 3)
    client.get(reverse("reports:page"))  # the session's first read of the page records the acting tenant

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("reports:page")).status_code == 200
        return len(captured.captured_queries)

    few = queries()
    for minutes in range(5, 30, 5):
        propose(acknowledged_after(tenant, minutes), "isolate_endpoint")
    assert queries() == few
