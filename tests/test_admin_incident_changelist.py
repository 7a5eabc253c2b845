"""The incidents changelist and change page: filters, search and pinned query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from escalation.runs.lifecycle import incident_change_status
from incidents.authorizations import authorization_record
from incidents.models import Channel, Incident
from incidents.selectors import authorization_text
from tenants.models import ResponseMode
from tests.admin_pages import get_counted
from tests.factories import make_incident, make_tenant, propose
from tests.incident_admin import CHANGELIST, change_url, shown

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


# Pinned query counts: they must not grow with the number of rows shown.
# session, user, user and group permissions, the queue views' counts, tenant filter, two counts, the page,
# date hierarchy (2)
CHANGELIST_QUERIES = 11


# session, user, incident, permissions (2), actions with types and authorizations, the observables they use,
# the thread's messages, notes with authors, observables with who added them, events, tenant, opener, the
# staff who may own it
CHANGE_PAGE_QUERIES = 14


# Filters and search


@pytest.fixture
def spread() -> dict[str, Incident]:
    """Incidents across modes, severities and statuses."""
    collab, authorize = make_tenant(), make_tenant(mode=ResponseMode.AUTHORIZE)
    incidents = {
        "collab_critical_open": make_incident(collab, severity="critical"),
        "collab_low_contained": make_incident(collab, severity="low"),
        "auth_critical_resolved": make_incident(authorize, severity="critical"),
        "auth_high_open": make_incident(authorize, severity="high"),
    }
    incident_change_status(incident=incidents["collab_low_contained"], status="contained", by=None)
    incident_change_status(incident=incidents["auth_critical_resolved"], status="resolved", by=None)
    Incident.objects.filter(pk=incidents["auth_high_open"].pk).update(title="Beaconing to evil.example")
    # Two matching actions: the incident is still listed once.
    propose(incidents["collab_low_contained"], "block_ip", "203.0.113.66")
    propose(incidents["collab_low_contained"], "block_ip", "203.0.113.66")
    return incidents


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # Active incidents (open, contained) unless the status filter says otherwise.
        ("", ["collab_critical_open", "collab_low_contained", "auth_high_open"]),
        (
            "status=all",
            ["collab_critical_open", "collab_low_contained", "auth_critical_resolved", "auth_high_open"],
        ),
        ("mode=authorize", ["auth_high_open"]),
        ("mode=authorize&status=all", ["auth_critical_resolved", "auth_high_open"]),
        ("mode=collaborate", ["collab_critical_open", "collab_low_contained"]),
        ("severity=critical", ["collab_critical_open"]),
        ("severity=critical&status=all", ["collab_critical_open", "auth_critical_resolved"]),
        # Several values at once, comma-separated.
        ("severity=critical,high", ["collab_critical_open", "auth_high_open"]),
        ("status=open", ["collab_critical_open", "auth_high_open"]),
        ("status=open,resolved", ["collab_critical_open", "auth_critical_resolved", "auth_high_open"]),
        ("status=open,not-a-status", ["collab_critical_open", "auth_high_open"]),
        ("mode=authorize&status=open", ["auth_high_open"]),
        ("q=beaconing", ["auth_high_open"]),
        ("q=203.0.113.66", ["collab_low_contained"]),
        ("q=nothing-like-this", []),
    ],
)
def test_changelist_filters_and_search(
    analyst_client: Client, spread: dict[str, Incident], query: str, expected: list[str]
) -> None:
    response = analyst_client.get(f"{CHANGELIST}?{query}")

    assert response.status_code == 200
    assert shown(response) == sorted(spread[name].pk for name in expected)


def test_search_by_tenant_name(analyst_client: Client, spread: dict[str, Incident]) -> None:
    tenant = spread["auth_high_open"].tenant

    response = analyst_client.get(CHANGELIST, {"q": tenant.name, "status": "all"})

    assert shown(response) == sorted(i.pk for i in spread.values() if i.tenant == tenant)


@pytest.mark.parametrize("incidents", [3, 15])
def test_changelist_query_count_does_not_grow_with_incidents(
    analyst_client: Client, analyst: Any, django_assert_num_queries: Any, incidents: int
) -> None:
    tenants = [make_tenant(), make_tenant(mode=ResponseMode.AUTHORIZE), make_tenant()]
    for i in range(incidents):
        make_incident(tenants[i % 3], by=analyst)

    response = get_counted(analyst_client, CHANGELIST, django_assert_num_queries, CHANGELIST_QUERIES)

    assert len(response.context["cl"].result_list) == incidents


@pytest.mark.parametrize("actions", [3, 12])
def test_change_page_query_count_does_not_grow_with_actions(
    analyst_client: Client, analyst: Any, django_assert_num_queries: Any, actions: int
) -> None:
    incident = make_incident(make_tenant(), by=analyst)
    codes = ["isolate_endpoint", "block_sha256", "disable_user"]
    proposed = [propose(incident, codes[i % 3], f"WS-{i}") for i in range(actions)]
    authorization_record(
        incident=incident,
        actions=proposed[:2],
        decision="granted",
        channel=Channel.ANALYST_RECORDED,
        text_shown=authorization_text(incident, proposed[:2]),
        contact=incident.tenant.contacts.first(),
        recorded_by=analyst,
        evidence="Email: go ahead.",
    )

    response = get_counted(
        analyst_client, change_url(incident), django_assert_num_queries, CHANGE_PAGE_QUERIES
    )

    inlines = {i.formset.prefix: i.formset for i in response.context["inline_admin_formsets"]}
    assert len(inlines["actions"].forms) == actions
