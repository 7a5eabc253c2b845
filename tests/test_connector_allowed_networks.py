"""CONNECTOR_ALLOWED_NETWORKS: the networks an operator allows connector URLs to reach besides public
addresses (an on-premises EDR manager), validated, logged at start-up, shown to leads, used on save."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from pytest_django.fixtures import Settings

from incidents.connector_models import ConnectorConfig
from mdrportal.core.env import env_networks
from tests.factories import as_user, login_verified, make_tenant
from tests.fakes.dns import FakeResolver

ON_PREMISES = "10.20.0.0/24"


@pytest.fixture
def production(settings: Settings) -> Settings:
    settings.CONNECTOR_ALLOW_LOCAL_URLS = False
    settings.CONNECTOR_ALLOWED_NETWORKS = [ON_PREMISES]
    return settings


def test_the_variable_is_a_list_of_networks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTOR_ALLOWED_NETWORKS", " 10.20.0.0/24, fd00:1::/64,192.0.2.7/32 ")
    assert env_networks("CONNECTOR_ALLOWED_NETWORKS") == ["10.20.0.0/24", "fd00:1::/64", "192.0.2.7/32"]
    monkeypatch.delenv("CONNECTOR_ALLOWED_NETWORKS")
    assert env_networks("CONNECTOR_ALLOWED_NETWORKS") == []


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("10.20.0.0/33", "not a network in CIDR notation"),
        ("10.20.0.5/24", "has host bits set"),
        ("intranet", "not a network in CIDR notation"),
        ("10.20.0.0/24,,10.30.0.0/24", "empty item"),
        ("0.0.0.0/0", "would allow every address"),
        ("::/0", "would allow every address"),
    ],
)
def test_a_bad_network_stops_the_process_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, why: str
) -> None:
    monkeypatch.setenv("CONNECTOR_ALLOWED_NETWORKS", value)
    with pytest.raises(ImproperlyConfigured, match="CONNECTOR_ALLOWED_NETWORKS") as error:
        env_networks("CONNECTOR_ALLOWED_NETWORKS")
    assert why in str(error.value)


def test_the_allowed_networks_are_logged_at_start_up(settings: Settings, caplog: Any) -> None:
    caplog.set_level(logging.WARNING)
    settings.CONNECTOR_ALLOWED_NETWORKS = [ON_PREMISES, "fd00:1::/64"]
    apps.get_app_config("incidents").ready()
    settings.CONNECTOR_ALLOWED_NETWORKS = []
    apps.get_app_config("incidents").ready()

    logged = [r.getMessage() for r in caplog.records if "CONNECTOR_ALLOWED_NETWORKS" in r.getMessage()]
    assert logged == [
        "Connector URLs may reach these networks besides public addresses (CONNECTOR_ALLOWED_NETWORKS): "
        "10.20.0.0/24, fd00:1::/64"
    ]


@pytest.mark.django_db
def test_leads_read_the_allowed_networks_on_the_connector_page(
    client: Any, lead: Any, settings: Settings
) -> None:
    login_verified(client, lead)
    settings.CONNECTOR_ALLOWED_NETWORKS = []
    empty = client.get(reverse("admin:incidents_connectorconfig_add")).content.decode()
    settings.CONNECTOR_ALLOWED_NETWORKS = [ON_PREMISES]
    allowed = client.get(reverse("admin:incidents_connectorconfig_add")).content.decode()

    assert "public addresses only (CONNECTOR_ALLOWED_NETWORKS is empty)" in empty
    assert "10.20.0.0/24, besides public addresses" in allowed


def admin_save(client: Any, tenant: Any, url: str) -> Any:
    return client.post(
        reverse("admin:incidents_connectorconfig_add"),
        {"tenant": str(tenant.pk), "kind": "webhook", "url": url, "secret": "k", "options": "{}"},
    )


def api_save(lead: Any, tenant: Any, url: str) -> Any:
    return as_user(lead).put(
        f"/api/v1/tenants/{tenant.pk}/connector/",
        {"kind": "webhook", "url": url, "secret": "k"},
        format="json",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["admin", "api"])
@pytest.mark.parametrize(
    ("host", "resolves_to", "saved"),
    [
        ("edr.example.com", ["10.20.0.5"], True),
        ("edr.corp.internal", ["10.20.0.9"], True),  # an internal name, every address allowed
        ("10.20.0.7", [], True),
        ("edr.example.com", ["10.20.1.5"], False),  # next door: not allowed
        ("edr.example.com", ["10.20.0.5", "10.30.0.1"], False),  # one address outside refuses the name
        ("edr.corp.internal", ["10.30.0.9"], False),
        ("metadata.example.com", ["169.254.169.254"], False),
    ],
)
def test_a_url_in_an_allowed_network_is_saved_and_the_rest_keeps_the_public_rule(
    production: Settings,
    fake_dns: FakeResolver,
    client: Any,
    lead: Any,
    path: str,
    host: str,
    resolves_to: list[str],
    saved: bool,
) -> None:
    fake_dns.names[host] = resolves_to
    tenant = make_tenant()
    url = f"https://{host}/mdr"
    if path == "admin":
        login_verified(client, lead)
        response = admin_save(client, tenant, url)
        assert response.status_code == (302 if saved else 200)
        if not saved:
            assert "private or local network" in str(response.context["adminform"].form.errors["url"])
    else:
        response = api_save(lead, tenant, url)
        assert response.status_code == (200 if saved else 400), response.content
        if not saved:
            assert "private or local network" in response.json()["url"][0]
    assert ConnectorConfig.objects.filter(tenant=tenant).exists() == saved


@pytest.mark.django_db
def test_without_allowed_networks_a_private_address_is_refused_as_before(
    production: Settings, fake_dns: FakeResolver, lead: Any
) -> None:
    production.CONNECTOR_ALLOWED_NETWORKS = []
    fake_dns.names["edr.example.com"] = ["10.20.0.5"]
    assert api_save(lead, make_tenant(), "https://edr.example.com/mdr").status_code == 400
