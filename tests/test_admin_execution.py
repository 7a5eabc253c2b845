"""Admin for execution: connector settings with a write-only secret, attempts, and proposing reverts."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from incidents.connector_models import ConnectorConfig
from incidents.connector_settings import connector_configure
from incidents.execution import action_run, connector_spec
from incidents.models import ActionStatus, ResponseAction
from tenants.models import ResponseMode
from tests.factories import login_verified, make_incident, make_lead, make_tenant, propose

pytestmark = pytest.mark.django_db

WEBHOOK = dict(kind="webhook", url="https://hooks.example.com/mdr", client_id="", external_tenant_id="")


@pytest.fixture
def lead(client):
    user = make_lead()
    login_verified(client, user)
    return user


def form_data(**fields: str) -> dict[str, str]:
    return {"options": "{}", **WEBHOOK, **fields}


def test_a_lead_sets_a_webhook_connector_and_the_secret_is_never_shown(client, lead) -> None:
    tenant = make_tenant()
    response = client.post(
        reverse("admin:incidents_connectorconfig_add"),
        form_data(tenant=str(tenant.pk), secret="hmac-key-123"),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    config = ConnectorConfig.objects.get(tenant=tenant)
    assert connector_spec(tenant).secret == "hmac-key-123"
    page = client.get(reverse("admin:incidents_connectorconfig_change", args=[config.pk]))
    assert b"hmac-key-123" not in page.content
    assert b"A secret is stored" in page.content or b"leave empty to keep" in page.content
    # Saving again with the secret left empty keeps it.
    response = client.post(
        reverse("admin:incidents_connectorconfig_change", args=[config.pk]),
        form_data(url="https://h.example.com/x"),
    )
    assert response.status_code == 302
    assert connector_spec(tenant).secret == "hmac-key-123"
    assert connector_spec(tenant).url == "https://h.example.com/x"


def test_a_webhook_without_a_secret_is_a_form_error(client, lead) -> None:
    tenant = make_tenant()
    response = client.post(reverse("admin:incidents_connectorconfig_add"), form_data(tenant=str(tenant.pk)))
    assert response.status_code == 200
    assert "secret" in response.context["adminform"].form.errors
    assert not ConnectorConfig.objects.exists()


def test_an_analyst_sees_connectors_but_cannot_change_them(client, analyst: Any) -> None:
    config = connector_configure(
        tenant=make_tenant(), by=None, kind="webhook", url="https://a.example.com", secret="k"
    )
    login_verified(client, analyst)
    url = reverse("admin:incidents_connectorconfig_change", args=[config.pk])
    assert client.get(url).status_code == 200
    assert client.post(url, form_data(secret="stolen")).status_code == 403
    assert connector_spec(config.tenant).secret == "k"


def propose_revert(client: Client, action: ResponseAction) -> Any:
    """Run the actions changelist's "propose a revert" on the one action, following to the page shown."""
    return client.post(
        reverse("admin:incidents_responseaction_changelist"),
        {"action": "propose_revert", "_selected_action": [str(action.pk)]},
        follow=True,
    )


def test_an_analyst_proposes_a_revert_of_a_succeeded_isolation(client, analyst: Any) -> None:
    action = propose(make_incident(make_tenant(mode=ResponseMode.AUTHORIZE)), "isolate_endpoint")
    action_run(action.pk)
    login_verified(client, analyst)
    response = propose_revert(client, action)
    assert response.status_code == 200
    revert = ResponseAction.objects.get(reverts=action)
    assert (revert.action_type.code, revert.status) == ("release_endpoint", ActionStatus.QUEUED)
    page = client.get(reverse("admin:incidents_responseaction_change", args=[action.pk]))
    assert b"succeeded" in page.content.lower()  # the attempts inline


def test_a_revert_of_an_action_that_cannot_be_undone_is_a_warning(client, analyst: Any) -> None:
    action = propose(
        make_incident(make_tenant(mode=ResponseMode.AUTHORIZE)), "terminate_process", target="pid 1"
    )
    action_run(action.pk)
    login_verified(client, analyst)
    response = propose_revert(client, action)
    assert "cannot be undone" in response.content.decode()
    assert not ResponseAction.objects.filter(reverts=action).exists()
