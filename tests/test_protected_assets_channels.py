"""Protected assets on the settings page, its 3 a.m. preview and the API: listed for every role, changed by
the customer's admins with a fresh second factor, refused with a clear error, scoped to the tenant."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from tenants.models import ResponseMode, Role, SettingsChange
from tenants.protected_models import ProtectedTarget
from tenants.protected_services import AUDIT_FIELD, protected_target_add
from tests.admin_pages import add_row, page_data, row_index
from tests.credentials import api_client_for
from tests.factories import make_lead, make_member, make_tenant
from tests.web_sessions import session_client_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

FRESH = timedelta(minutes=1)


def test_the_settings_page_lists_what_is_protected_and_the_3am_preview_says_it_waits() -> None:
    tenant = make_tenant(mode=ResponseMode.AUTHORIZE)
    protected_target_add(tenant=tenant, by=None, kind="host", value="pump-gw-*", note="infusion pumps")
    protected_target_add(tenant=tenant, by=None, kind="action_type", value="disable_user")
    viewer = session_client_for(make_member(tenant, Role.VIEWER), second_factor_age=FRESH)

    page = viewer.get(reverse("tenants:settings")).content.decode()

    assert "infusion pumps" in page and "<code>pump-gw-*</code>" in page
    authorize = page.split('data-scenario="authorize"', 1)[1].split("</div>\n  </div>", 1)[0]
    assert "Never touched without the written authorization" in authorize
    assert "host pump-gw-*" in authorize
    # The action type kept out of automatic action waits for an approver, even in Authorize mode.
    waits = authorize.split("Waits for the written authorization", 1)[1].split("</ul>", 1)[0]
    assert "Disable user" in waits
    assert "Stop protecting" not in page  # a viewer reads, never changes


def test_an_admin_protects_a_host_from_the_settings_page_and_a_bad_value_is_explained() -> None:
    tenant = make_tenant()
    admin = session_client_for(make_member(tenant, Role.ADMIN), second_factor_age=FRESH)

    added = admin.post(reverse("tenants:protected_add"), {"kind": "host", "value": "DC-*"}, follow=True)
    refused = admin.post(
        reverse("tenants:protected_add"), {"kind": "network", "value": "10.0.0.300"}, follow=True
    )

    assert "Protected: Host name or pattern: dc-*" in added.content.decode()
    assert "An IP address or range" in refused.content.decode()
    assert list(ProtectedTarget.objects.values_list("value", flat=True)) == ["dc-*"]


def test_the_api_lists_adds_and_removes_protected_assets_with_field_errors_and_the_tenants_scope() -> None:
    tenant, other = make_tenant(), make_tenant()
    admin = api_client_for(make_member(tenant, Role.ADMIN), second_factor_age=FRESH)
    url = f"/api/v1/tenants/{tenant.pk}/protected/"

    created = admin.post(url, {"kind": "network", "value": "10.20.1.0/16", "note": "ICU"}, format="json")
    bad = admin.post(url, {"kind": "account", "value": "j doe"}, format="json")
    twice = admin.post(url, {"kind": "network", "value": "10.20.0.0/16"}, format="json")
    outside = admin.post(
        f"/api/v1/tenants/{other.pk}/protected/", {"kind": "host", "value": "x"}, format="json"
    )

    assert created.status_code == 201 and created.json()["value"] == "10.20.0.0/16"
    assert bad.status_code == 400 and "spaces" in bad.json()["value"][0]
    assert twice.status_code == 400 and "already protected" in twice.json()["value"][0]
    assert outside.status_code == 404
    assert admin.get(url).json() == [created.json()]
    assert admin.delete(f"{url}{created.json()['id']}/").status_code == 204
    assert not ProtectedTarget.objects.exists()


def test_protecting_through_the_api_needs_a_fresh_second_factor_and_an_admin() -> None:
    tenant = make_tenant()
    url = f"/api/v1/tenants/{tenant.pk}/protected/"
    stale = api_client_for(make_member(tenant, Role.ADMIN), second_factor_age=None)
    approver = api_client_for(make_member(tenant, Role.APPROVER), second_factor_age=FRESH)

    assert stale.post(url, {"kind": "host", "value": "dc-*"}, format="json").status_code == 403
    assert approver.post(url, {"kind": "host", "value": "dc-*"}, format="json").status_code == 403
    assert approver.get(url).status_code == 200
    assert not ProtectedTarget.objects.exists()


def test_the_admin_refuses_a_bad_protected_value_on_the_form_and_audits_a_removal() -> None:
    tenant = make_tenant()
    protected = protected_target_add(tenant=tenant, by=None, kind="host", value="dc-*")
    lead = session_client_for(make_lead(), second_factor_age=FRESH)
    url = reverse("admin:tenants_tenant_change", args=[tenant.pk])

    data = page_data(lead.get(url))
    add_row(data, "protected_targets", kind="host", value="dc 01")
    refused = lead.post(url, data)
    data = page_data(lead.get(url))
    data[f"protected_targets-{row_index(data, 'protected_targets', protected.pk)}-DELETE"] = "on"
    removed = lead.post(url, data)

    assert refused.status_code == 200 and "A host name or a pattern" in refused.content.decode()
    assert removed.status_code == 302
    assert not ProtectedTarget.objects.exists()
    change = tenant.settings_changes.filter(field="protected").latest("id")
    assert (change.actor_label, change.before["value"], change.after) == ("lead", "dc-*", None)


def test_a_host_name_as_long_as_the_field_allows_is_protected_and_its_history_row_names_it_cut() -> None:
    """Found over HTTP: the history's subject holds 200 characters, a protected value 255."""
    tenant = make_tenant()
    admin = api_client_for(make_member(tenant, Role.ADMIN), second_factor_age=FRESH)
    value = "0" * 255
    created = admin.post(f"/api/v1/tenants/{tenant.pk}/protected/", {"kind": "host", "value": value})
    assert created.status_code == 201, created.content
    change = SettingsChange.objects.get(tenant=tenant, field=AUDIT_FIELD)
    assert len(change.subject) == 200 and change.subject.endswith("...")
    assert value in str(change.after)
