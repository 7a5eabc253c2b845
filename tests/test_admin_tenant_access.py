"""The tenants admin: who may do what, the audit that nobody changes, and pinned query counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tenants.protected_services import protected_target_add
from tests.admin_pages import get_counted, inline_formset, page_data
from tests.factories import (
    login_verified,
    make_member,
    make_partner,
    make_tenant,
    make_user,
)
from tests.tenant_admin import ADD_URL, CHANGELIST, audit, change_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


# Pinned query counts: they must not grow with the number of rows shown.
# session, user, user and group permissions, partner filter, two counts, the page
CHANGELIST_QUERIES = 8


# session, user, tenant, permissions (2), contacts with their availability windows and away periods (3),
# performers, action catalog, protected assets, memberships, partners, and one user per membership row (Django's autocomplete
# widget looks the selected user up per row)
CHANGE_PAGE_QUERIES = 14


@pytest.mark.parametrize("tenants", [3, 12])
def test_tenant_changelist_query_count_does_not_grow_with_tenants(
    lead_client: Client, django_assert_num_queries: Any, tenants: int
) -> None:
    partner = make_partner()
    for i in range(tenants):
        make_tenant(partner=partner if i % 2 else None, phones=1)

    response = get_counted(lead_client, CHANGELIST, django_assert_num_queries, CHANGELIST_QUERIES)

    assert len(response.context["cl"].result_list) == tenants


@pytest.mark.parametrize(("phones", "performers"), [(2, 1), (6, 5)])
def test_tenant_change_page_query_count_does_not_grow_with_contacts_performers_or_protected_assets(
    lead_client: Client, django_assert_num_queries: Any, phones: int, performers: int
) -> None:
    codes = ["disable_user", "block_domain", "block_ip", "quarantine_file", "terminate_process"]
    tenant = make_tenant(
        phones=phones, partner=make_partner(), performers=dict.fromkeys(codes[:performers], "customer")
    )
    make_member(tenant, role="approver")
    for n in range(performers):
        protected_target_add(tenant=tenant, by=None, kind="host", value=f"dc-{n}")

    response = get_counted(lead_client, change_url(tenant), django_assert_num_queries, CHANGE_PAGE_QUERIES)

    assert len(inline_formset(response, "contacts").forms) == phones + 1
    assert len(inline_formset(response, "performers").forms) == performers
    assert len(inline_formset(response, "protected_targets").forms) == performers


# Who may do what


def test_settings_audit_cannot_be_changed_or_deleted_even_by_a_superuser(
    client: Client, superuser: Any
) -> None:
    tenant = make_tenant()
    row = audit(tenant)[0]
    login_verified(client, superuser)
    change = reverse("admin:tenants_settingschange_change", args=[row.pk])
    delete = reverse("admin:tenants_settingschange_delete", args=[row.pk])

    assert client.get(change).status_code == 200  # shown, read-only
    assert client.post(change, {"field": "rewritten"}).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:tenants_settingschange_add")).status_code == 403
    assert audit(tenant)[0].field == row.field == "created"


def test_analyst_can_view_tenants_but_not_change_them(client: Client, analyst: Any) -> None:
    tenant = make_tenant()
    login_verified(client, analyst)

    assert client.get(reverse("admin:tenants_tenant_changelist")).status_code == 200
    page = client.get(change_url(tenant))
    assert page.status_code == 200
    assert client.get(ADD_URL).status_code == 403
    data = page_data(page)
    data["response_mode"] = "authorize"
    assert client.post(change_url(tenant), data).status_code == 403
    tenant.refresh_from_db()
    assert tenant.response_mode == "collaborate"


@pytest.mark.parametrize("url_name", ["admin:tenants_tenant_changelist", "admin:tenants_tenant_change"])
def test_customer_user_is_sent_to_the_admin_login(client: Client, url_name: str) -> None:
    tenant = make_tenant()
    login_verified(client, make_user("customer"))
    url = reverse(url_name, args=[tenant.pk] if url_name.endswith("change") else [])

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert client.post(url, {"name": "Hacked"}).status_code == 302
    tenant.refresh_from_db()
    assert tenant.name != "Hacked"
