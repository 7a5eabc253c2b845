"""The tenants admin's addresses and what its tests read back: the settings audit and the contacts in order."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from tenants.models import Contact, SettingsChange, Tenant
from tests.admin_pages import page_data, page_errors

ADD_URL = reverse("admin:tenants_tenant_add")
CHANGELIST = reverse("admin:tenants_tenant_changelist")


def change_url(tenant: Tenant) -> str:
    return reverse("admin:tenants_tenant_change", args=[tenant.pk])


def audit(tenant: Tenant, field: str | None = None) -> list[SettingsChange]:
    rows = SettingsChange.objects.filter(tenant=tenant).order_by("id")
    return list(rows.filter(field=field) if field else rows)


def contacts(tenant: Tenant) -> list[tuple[str, int, str, bool]]:
    return [
        (c.name, c.call_order, str(c.phone), c.active)
        for c in Contact.objects.filter(tenant=tenant).order_by("call_order")
    ]


def save_change_page(client: Client, tenant: Tenant, changes: dict[str, str]) -> None:
    """Submit the tenant's change page as rendered with `changes` to its fields; it must save."""
    data = page_data(client.get(change_url(tenant)))
    data.update(changes)
    response = client.post(change_url(tenant), data)
    assert response.status_code == 302, page_errors(response)
