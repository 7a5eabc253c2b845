"""Partner default performers and protected assets over the pages and the API: the partner's admins change
them with a fresh second factor, its viewers read them, other partners never see them; a customer's admin
sees what it inherits and opts out of the partner's list explicitly."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.urls import reverse

from tenants.models import Role, Tenant
from tenants.partner_protected import partner_protected_add
from tenants.protected_models import ProtectedTarget
from tenants.selectors import performers_of, tenant_policy
from tenants.services import tenant_delegation_set
from tests.credentials import api_client_for
from tests.factories import make_member, make_partner, make_partner_user, make_tenant
from tests.web_sessions import session_client_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

FRESH = timedelta(minutes=1)
DC = {"kind": "host", "value": "dc-*", "note": "domain controllers"}


def _delegating(partner: object) -> Tenant:
    tenant = make_tenant(partner=partner)  # type: ignore[arg-type]
    tenant_delegation_set(tenant=tenant, by=None, partner_decides=False, partner_manages_settings=True)
    return tenant


def _hosts(tenant: Tenant) -> list[str]:
    return tenant_policy(tenant)["protected"]["hosts"]


def test_the_api_changes_a_partners_protected_list_for_its_admins_with_a_fresh_second_factor() -> None:
    partner, other = make_partner("acme"), make_partner("globex")
    tenant = _delegating(partner)
    admin = make_partner_user(partner, Role.ADMIN)
    url = "/api/v1/partners/acme/defaults/protected/"
    stale = api_client_for(admin, second_factor_age=None)
    fresh = api_client_for(admin, second_factor_age=FRESH)
    viewer = api_client_for(make_partner_user(partner, Role.VIEWER), second_factor_age=FRESH)
    outsider = api_client_for(make_partner_user(other, Role.ADMIN), second_factor_age=FRESH)

    assert stale.post(url, DC, format="json").status_code == 403
    assert viewer.post(url, DC, format="json").status_code == 403
    assert outsider.post(url, DC, format="json").status_code == 404
    assert outsider.get(url).status_code == 404
    assert fresh.post(url, {"kind": "network", "value": "nope"}, format="json").status_code == 400
    assert _hosts(tenant) == []
    added = fresh.post(url, DC, format="json")

    assert added.status_code == 201 and added.json()["value"] == "dc-*"
    assert viewer.get(url).json() == [added.json()]
    assert _hosts(tenant) == ["dc-*"]
    shown = api_client_for(make_member(tenant, Role.VIEWER), second_factor_age=FRESH)
    listed = shown.get(f"/api/v1/tenants/{tenant.pk}/protected/").json()
    assert [(t["value"], t["from_partner"]) for t in listed] == [("dc-*", "acme")]
    assert stale.delete(f"{url}{added.json()['id']}/").status_code == 403
    assert fresh.delete(f"{url}{added.json()['id']}/").status_code == 204
    assert _hosts(tenant) == []


def test_the_api_sets_default_performers_and_refuses_a_performer_that_is_not_one() -> None:
    partner = make_partner("acme")
    tenant = _delegating(partner)
    fresh = api_client_for(make_partner_user(partner, Role.ADMIN), second_factor_age=FRESH)
    url = "/api/v1/partners/acme/defaults/"

    refused = fresh.patch(url, {"performers": {"block_ip": "nobody"}}, format="json")
    saved = fresh.patch(url, {"performers": {"block_ip": "partner"}}, format="json")

    assert refused.status_code == 400
    assert saved.status_code == 200 and saved.json()["performers"] == {"block_ip": "partner"}
    assert performers_of(tenant) == {"block_ip": "partner"}


def test_a_customer_admin_opts_out_of_the_partners_list_over_the_api_only_with_a_fresh_second_factor() -> (
    None
):
    partner = make_partner("acme")
    tenant = _delegating(partner)
    partner_protected_add(partner=partner, by=None, **DC)
    admin = make_member(tenant, Role.ADMIN)
    url = f"/api/v1/tenants/{tenant.pk}/protected/partner-list/"
    stale = api_client_for(admin, second_factor_age=None)
    fresh = api_client_for(admin, second_factor_age=FRESH)
    viewer = api_client_for(make_member(tenant, Role.VIEWER), second_factor_age=FRESH)

    assert viewer.get(url).json() == {"inherits": True}
    assert viewer.put(url, {"inherits": False}, format="json").status_code == 403
    assert stale.put(url, {"inherits": False}, format="json").status_code == 403
    assert _hosts(tenant) == ["dc-*"]
    assert fresh.put(url, {"inherits": False}, format="json").json() == {"inherits": False}
    assert _hosts(tenant) == []
    assert fresh.put(url, {"inherits": True}, format="json").json() == {"inherits": True}
    assert _hosts(tenant) == ["dc-*"]


def test_the_settings_page_shows_the_inherited_list_and_opting_out_is_its_own_explicit_button() -> None:
    partner = make_partner("acme")
    tenant = _delegating(partner)
    partner_protected_add(partner=partner, by=None, **DC)
    page = session_client_for(make_member(tenant, Role.ADMIN), second_factor_age=FRESH)

    shown = page.get(reverse("tenants:settings")).content.decode()
    row = shown.split('data-protected="dc-*"', 1)[1].split("</tr>", 1)[0]
    assert "from Acme's defaults" in row and "Stop protecting" not in row
    assert "What you protect yourself comes on top of it" in shown
    assert "Opt out of Acme's list" in shown

    assert page.post(reverse("tenants:protected_opt_out")).status_code == 302
    assert _hosts(tenant) == []
    assert "Inherit Acme's list again" in page.get(reverse("tenants:settings")).content.decode()


def test_the_partner_page_sets_a_default_performer_and_protects_for_every_inheriting_customer() -> None:
    partner = make_partner("acme")
    tenant = _delegating(partner)
    admin = make_partner_user(partner, Role.ADMIN)
    stale = session_client_for(admin, second_factor_age=timedelta(hours=13))
    fresh = session_client_for(admin, second_factor_age=FRESH)

    asked = stale.post(reverse("partner_defaults", args=["acme"]), {"performer-block_ip": "customer"})
    assert asked.status_code == 302 and "second-factor" in asked["Location"]
    assert stale.post(reverse("partner_protected_add", args=["acme"]), DC).status_code == 302
    assert (performers_of(tenant), _hosts(tenant)) == ({}, [])

    fresh.post(reverse("partner_defaults", args=["acme"]), {"performer-block_ip": "customer"})
    fresh.post(reverse("partner_protected_add", args=["acme"]), DC)

    assert (performers_of(tenant), _hosts(tenant)) == ({"block_ip": "customer"}, ["dc-*"])
    page = fresh.get(reverse("partner_defaults", args=["acme"])).content.decode()
    assert "1 customer inherits this list" in page


def test_removing_an_inherited_target_on_the_page_is_refused_with_a_message() -> None:
    partner = make_partner("acme")
    tenant = _delegating(partner)
    partner_protected_add(partner=partner, by=None, **DC)
    target = ProtectedTarget.objects.get(tenant=tenant)
    page = session_client_for(make_member(tenant, Role.ADMIN), second_factor_age=FRESH)

    refused = page.post(reverse("tenants:protected_remove", args=[target.pk]), follow=True)

    assert "stop inheriting Acme's list to drop it" in html.unescape(refused.content.decode())
    assert _hosts(tenant) == ["dc-*"]
