"""A tenant's connector settings: validated per kind, the secret write-only and never audited."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from incidents.connector_models import ConnectorConfig
from incidents.connector_settings import connector_configure
from incidents.execution import connector_spec
from tenants.models import SettingsChange
from tests.factories import make_tenant

pytestmark = pytest.mark.django_db

SOPHOS = dict(
    kind="sophos_central",
    url="https://api-eu01.central.sophos.com",
    client_id="client-1",
    external_tenant_id="tenant-uuid",
)


def test_a_tenant_without_a_connector_uses_the_simulated_one() -> None:
    assert connector_spec(make_tenant()).kind == "simulated"


def test_sophos_needs_its_settings_and_a_secret() -> None:
    tenant = make_tenant()
    with pytest.raises(ValidationError) as error:
        connector_configure(tenant=tenant, by=None, kind="sophos_central")
    assert set(error.value.message_dict) == {"url", "client_id", "external_tenant_id", "secret"}
    assert not ConnectorConfig.objects.exists()


def test_the_secret_is_kept_when_not_given_again_and_never_audited() -> None:
    tenant = make_tenant()
    connector_configure(tenant=tenant, by=None, secret="first-secret", **SOPHOS)
    connector_configure(tenant=tenant, by=None, **{**SOPHOS, "client_id": "client-2"})
    assert connector_spec(tenant).secret == "first-secret"
    assert "first-secret" not in repr(connector_spec(tenant))
    connector_configure(tenant=tenant, by=None, secret="second-secret", **SOPHOS)
    assert connector_spec(tenant).secret == "second-secret"
    audit = list(SettingsChange.objects.filter(tenant=tenant, field="connector").order_by("id"))
    assert len(audit) == 3
    assert [row.after["secret"] for row in audit] == ["changed", "set", "changed"]
    assert not any("first-secret" in str(r.after) or "second-secret" in str(r.after) for r in audit)


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValidationError) as error:
        connector_configure(tenant=make_tenant(), by=None, kind="crowdstrike")
    assert "kind" in error.value.message_dict


@pytest.mark.parametrize(
    ("kind", "url", "why"),
    [
        ("webhook", "http://hooks.example.com/mdr", "https"),
        ("webhook", "https://127.0.0.1/mdr", "private or local"),
        ("webhook", "https://10.1.2.3/mdr", "private or local"),
        ("webhook", "https://localhost/mdr", "private or local"),
        ("sophos_central", "https://evil.example.com", "data-region host"),
    ],
)
def test_production_refuses_urls_that_would_send_secrets_astray(
    settings, kind: str, url: str, why: str
) -> None:
    settings.CONNECTOR_ALLOW_LOCAL_URLS = False
    fields = {**SOPHOS, "kind": kind, "url": url} if kind == "sophos_central" else {"kind": kind, "url": url}
    with pytest.raises(ValidationError) as error:
        connector_configure(tenant=make_tenant(), by=None, secret="k", **fields)
    assert why in error.value.message_dict["url"][0]


def test_production_accepts_a_public_https_webhook(settings, fake_dns) -> None:
    settings.CONNECTOR_ALLOW_LOCAL_URLS = False
    fake_dns.names["hooks.example.com"] = ["93.184.216.34"]
    config = connector_configure(
        tenant=make_tenant(), by=None, kind="webhook", url="https://hooks.example.com/mdr", secret="k"
    )
    assert config.kind == "webhook"
