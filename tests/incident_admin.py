"""The incidents admin's addresses and the rows its tests start from (a Collaborate tenant, an incident whose
three proposed actions await a written authorization)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from incidents.models import Incident, ResponseAction
from tenants.models import Contact, ResponseMode, Tenant
from tests.factories import make_incident, make_tenant, propose

CHANGELIST = reverse("admin:incidents_incident_changelist")
ADD_URL = reverse("admin:incidents_incident_add")


def change_url(incident: Incident) -> str:
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def propose_url(incident: Incident) -> str:
    return reverse("admin:incidents_incident_propose", args=[incident.pk])


def authorize_url(incident: Incident) -> str:
    return reverse("admin:incidents_incident_authorize", args=[incident.pk])


def post_decision(
    client: Client,
    incident: Incident,
    actions: Sequence[ResponseAction],
    *,
    contact: Contact | None = None,
    decision: str = "granted",
    evidence: str = "Go ahead.",
) -> Any:
    """Submit the authorize page: the actions ticked, who decided (the tenant's first contact unless given)."""
    return client.post(
        authorize_url(incident),
        {
            "actions": [action.pk for action in actions],
            "contact": (contact or incident.tenant.contacts.first()).pk,
            "decision": decision,
            "evidence": evidence,
        },
    )


def shown(response: Any) -> list[int]:
    """The ids of the incidents a changelist page lists."""
    return sorted(i.pk for i in response.context["cl"].result_list)


@pytest.fixture
def collaborate() -> Tenant:
    return make_tenant(mode=ResponseMode.COLLABORATE)


@pytest.fixture
def awaiting(collaborate: Tenant) -> tuple[Incident, ResponseAction, ResponseAction, ResponseAction]:
    incident = make_incident(collaborate)
    return (
        incident,
        propose(incident, "isolate_endpoint", "WS-0142"),
        propose(incident, "block_sha256", "e3b0c44298fc1c149afbf4c8996fb924"),
        propose(incident, "disable_user", "jdoe"),
    )
