"""The customer's incident list and home page: only its incidents, filters, cursor pages, counts, pinned queries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from escalation.runs.lifecycle import incident_change_status
from incidents.models import Incident, IncidentStatus, Severity
from mdrportal.web.incident_views import PAGE_SIZE
from tests.factories import client_for, make_incident, make_tenant, propose

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


LIST = reverse("incidents:list")


# Pinned query counts: they must not grow with the number of rows or events.
# session, user, the user's tenants (the first two: one is the current tenant), the role (membership),
# the page of incidents with their awaiting counts (no count of every incident)
LIST_QUERIES = 5


# Incident list ---------------------------------------------------------------------------------------


def test_the_list_shows_only_the_tenants_incidents_newest_first() -> None:
    tenant, other = make_tenant(), make_tenant()
    older = make_incident(tenant)
    newer = make_incident(tenant)
    make_incident(other)
    client, _ = client_for(tenant)

    response = client.get(LIST)

    assert [i.pk for i in response.context["page"]] == [newer.pk, older.pk]


def test_the_list_filters_by_status_severity_and_dates() -> None:
    tenant = make_tenant()
    critical = make_incident(tenant, severity=Severity.CRITICAL)
    low = make_incident(tenant, severity=Severity.LOW)
    incident_change_status(incident=low, status=IncidentStatus.CONTAINED, by=None)
    old = make_incident(tenant, severity=Severity.HIGH)
    Incident.objects.filter(pk=old.pk).update(opened_at=timezone.now() - timedelta(days=40))
    client, _ = client_for(tenant)

    def shown(**params: str) -> list[int]:
        return [i.pk for i in client.get(LIST, params).context["page"]]

    assert shown(status="contained") == [low.pk]
    assert shown(severity="critical") == [critical.pk]
    since = (timezone.now() - timedelta(days=7)).date().isoformat()
    assert set(shown(opened_from=since)) == {critical.pk, low.pk}
    assert shown(opened_to=(timezone.now() - timedelta(days=30)).date().isoformat()) == [old.pk]
    assert shown(status="open", severity="high") == [old.pk]


def test_the_home_page_counts_each_incident_and_each_action_once() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    for n in range(5):
        propose(incident, "isolate_endpoint", target=f"WS-{n}")
    other = make_incident(tenant)
    incident_change_status(incident=other, status=IncidentStatus.RESOLVED, by=None)
    make_incident(make_tenant())  # another tenant's
    client, _ = client_for(tenant)

    response = client.get(reverse("home"))

    assert response.context["counts"] == {"open": 1, "awaiting": 5}


def test_the_list_is_paginated_and_keeps_its_filters_on_the_next_page() -> None:
    tenant = make_tenant()
    opened = [make_incident(tenant) for _ in range(PAGE_SIZE + 3)]
    make_incident(tenant, severity=Severity.LOW)  # filtered out
    client, _ = client_for(tenant)

    first = client.get(LIST, {"severity": "critical"})
    older = first.context["page"].next
    second = client.get(LIST + older)

    assert len(first.context["page"]) == PAGE_SIZE and first.context["page"].previous is None
    assert "severity=critical" in older and "cursor=" in older
    html = first.content.decode()
    assert html.count('class="pager"') == 1 and f'<a href="{older.replace("&", "&amp;")}">Older' in html
    shown = [i.pk for i in first.context["page"]] + [i.pk for i in second.context["page"]]
    assert shown == [i.pk for i in reversed(opened)]
    assert second.context["page"].next is None
    newer = client.get(LIST + second.context["page"].previous)
    assert [i.pk for i in newer.context["page"]] == shown[:PAGE_SIZE]


def test_a_made_up_cursor_is_a_404() -> None:
    client, _ = client_for(make_tenant())
    assert client.get(LIST, {"cursor": "not-a-cursor"}).status_code == 404


def test_the_list_counts_the_actions_awaiting_authorization() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    propose(incident, "isolate_endpoint")
    propose(incident, "block_ip", target="203.0.113.9")
    client, _ = client_for(tenant)

    response = client.get(LIST)

    assert response.context["page"][0].awaiting == 2


@pytest.mark.parametrize("rows", [3, 15])
def test_the_list_query_count_does_not_grow_with_the_rows(rows: int, django_assert_num_queries: Any) -> None:
    tenant = make_tenant()
    for _ in range(rows):
        propose(make_incident(tenant), "isolate_endpoint")
    client, _ = client_for(tenant)
    client.get(LIST)  # the first request of a session may store the chosen tenant

    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(LIST)

    assert len(response.context["page"]) == rows
