"""The settings history never shows a connector URL's path or query, nor a secret's value."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from incidents.connector_settings import connector_configure
from tenants.models import SettingsChange, Tenant
from tests.factories import login_verified, make_tenant

pytestmark = pytest.mark.django_db

URL = "https://hooks.example.com/services/T0K3N-in-path?sig=query-token"
SECRET = "hmac-VALUE-never-shown"


def configure(tenant, url: str = URL, secret: str | None = SECRET) -> None:
    connector_configure(tenant=tenant, by=None, kind="webhook", url=url, secret=secret)


def test_the_audit_keeps_the_host_of_the_url_and_changed_for_the_secret() -> None:
    tenant = make_tenant()
    configure(tenant)
    configure(tenant, url="https://hooks.example.com/services/OTHER-T0K3N", secret=None)
    rows = list(SettingsChange.objects.filter(tenant=tenant, field="connector").order_by("id"))
    assert [r.after["url"] for r in rows] == ["hooks.example.com", "hooks.example.com (address changed)"]
    assert [r.after["secret"] for r in rows] == ["changed", "set"]
    stored = str([(r.before, r.after) for r in rows])
    for hidden in ("T0K3N", "services", "sig=", "query-token", SECRET):
        assert hidden not in stored


def test_the_settings_page_shows_hosts_only_even_for_rows_written_before(
    tenant: Tenant, customer_admin: Any
) -> None:
    configure(tenant)
    # A row from before the audit kept only hosts.
    SettingsChange.objects.create(
        tenant=tenant,
        actor_label="lead",
        field="connector",
        before={"kind": "webhook", "url": URL, "secret": "set"},
        after={"kind": "webhook", "url": "https://new.example.com/path/T0K3N?x=query-token", "secret": "x"},
    )
    client = Client()
    login_verified(client, customer_admin)
    page = client.get(reverse("tenants:settings")).content.decode()
    assert "hooks.example.com" in page and "new.example.com" in page
    for hidden in ("T0K3N", "/services", "query-token", SECRET):
        assert hidden not in page


def test_the_admin_audit_list_shows_hosts_only(client, lead: Any) -> None:
    tenant = make_tenant()
    SettingsChange.objects.create(
        tenant=tenant, actor_label="lead", field="connector", before=None, after={"url": URL, "secret": "x"}
    )
    login_verified(client, lead)
    page = client.get(reverse("admin:tenants_settingschange_changelist")).content.decode()
    assert "hooks.example.com" in page
    assert "T0K3N" not in page and "query-token" not in page


SOPHOS = dict(
    kind="sophos_central",
    url="https://api-eu01.central.sophos.com",
    client_id="client-ID-7f3a",
    external_tenant_id="ext-TENANT-91c2",
    options={"region_note": "OPTION-value"},
)
ACCOUNT = ("client-ID-7f3a", "ext-TENANT-91c2", "OPTION-value", "client-ID-new")


def history_page(client: Client) -> str:
    page = client.get(reverse("tenants:settings")).content.decode()
    return page[page.index('id="settings-history"') :]


@pytest.mark.parametrize("role", ["customer_admin", "viewer"])
def test_the_customers_users_read_that_the_connector_changed_not_its_account(
    tenant: Tenant, role: str, request: Any
) -> None:
    connector_configure(tenant=tenant, by=None, secret="s", **SOPHOS)
    connector_configure(tenant=tenant, by=None, **{**SOPHOS, "client_id": "client-ID-new"})
    client = Client()
    login_verified(client, request.getfixturevalue(role))

    page = history_page(client)

    assert "api-eu01.central.sophos.com" in page and "account details: changed" in page
    for hidden in ACCOUNT:
        assert hidden not in page


def test_mdr_staff_read_the_connectors_account_in_the_history(tenant: Tenant, lead: Any) -> None:
    connector_configure(tenant=tenant, by=None, secret="s", **SOPHOS)
    client = Client()
    login_verified(client, lead)
    client.post(reverse("tenants:choose"), {"tenant": tenant.pk})

    page = history_page(client)

    for shown in ACCOUNT[:3]:
        assert shown in page
