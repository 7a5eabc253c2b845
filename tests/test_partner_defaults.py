"""Partner defaults: a default reaches every customer that delegated its settings and did not set it itself,
each with its history row naming the partner; a customer's own setting and going back to the default."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from tenants.models import Role, SettingsChange, Tenant
from tenants.partner_default_models import PartnerDefault
from tenants.partner_defaults import partner_default_set
from tenants.partner_inherit import tenant_setting_inherit
from tenants.services import tenant_delegation_set, tenant_update_settings
from tests.credentials import api_client_for
from tests.factories import make_member, make_partner, make_partner_user, make_tenant, make_user
from tests.web_sessions import session_client_for

pytestmark = pytest.mark.django_db


def _delegating(partner: object, **kwargs: object) -> Tenant:
    tenant = make_tenant(partner=partner, **kwargs)  # type: ignore[arg-type]
    tenant_delegation_set(tenant=tenant, by=None, partner_decides=False, partner_manages_settings=True)
    return tenant


def _fresh(tenant: Tenant) -> Tenant:
    return Tenant.objects.get(pk=tenant.pk)


def test_a_default_reaches_inheriting_customers_and_not_those_that_set_it_or_did_not_delegate() -> None:
    partner = make_partner("acme")
    msp_admin = make_partner_user(partner, Role.ADMIN, username="msp-admin")
    inheriting = _delegating(partner)
    overriding = _delegating(partner)
    tenant_update_settings(tenant=overriding, by=make_member(overriding, Role.ADMIN), reminder_minutes=5)
    not_delegated = make_tenant(partner=partner)

    reached = partner_default_set(partner=partner, by=msp_admin, field="reminder_minutes", value=60)

    assert reached == [inheriting]
    assert [_fresh(t).reminder_minutes for t in (inheriting, overriding, not_delegated)] == [60, 5, 15]
    row = inheriting.settings_changes.get(field="reminder_minutes")
    assert (row.actor_label, row.subject, row.before, row.after) == (
        f"msp-admin (Acme partner, under {inheriting}'s delegation)",
        "from Acme's defaults",
        15,
        60,
    )
    assert not overriding.settings_changes.filter(field="reminder_minutes", subject__contains="Acme").exists()


def test_going_back_to_the_default_applies_it_and_lets_later_defaults_reach_the_customer() -> None:
    partner = make_partner("acme")
    tenant = _delegating(partner)
    admin = make_member(tenant, Role.ADMIN)
    partner_default_set(partner=partner, by=None, field="reminder_count", value=8)
    tenant_update_settings(tenant=tenant, by=admin, reminder_count=2)
    partner_default_set(partner=partner, by=None, field="reminder_count", value=9)
    assert _fresh(tenant).reminder_count == 2

    tenant_setting_inherit(tenant=tenant, by=admin, field="reminder_count")
    partner_default_set(partner=partner, by=None, field="reminder_count", value=10)

    assert _fresh(tenant).reminder_count == 10
    assert tenant.settings_changes.filter(field="inherits", subject="reminder_count").exists()


def test_only_the_partners_admins_set_its_defaults() -> None:
    partner, other = make_partner("acme"), make_partner("globex")
    tenant = _delegating(partner)
    for user in (make_partner_user(partner, Role.VIEWER), make_partner_user(other, Role.ADMIN)):
        with pytest.raises(PermissionDenied):
            partner_default_set(partner=partner, by=user, field="response_mode", value="authorize")
    assert _fresh(tenant).response_mode == "collaborate"


def test_a_default_one_customer_cannot_take_is_refused_whole_naming_that_customer() -> None:
    partner = make_partner("acme")
    reachable = _delegating(partner)
    unreachable = _delegating(partner, phones=0)

    with pytest.raises(ValidationError) as refused:
        partner_default_set(partner=partner, by=None, field="authorize_on_no_ack", value=True)

    assert str(unreachable) in refused.value.message_dict["value"][0]
    assert not _fresh(reachable).authorize_on_no_ack


def test_saving_a_customer_without_changing_a_setting_keeps_it_inheriting() -> None:
    partner = make_partner("acme")
    tenant = _delegating(partner)
    fresh = _fresh(tenant)
    tenant_update_settings(
        tenant=fresh, by=None, reminder_minutes=fresh.reminder_minutes, response_mode=fresh.response_mode
    )

    partner_default_set(partner=partner, by=None, field="reminder_minutes", value=30)

    assert _fresh(tenant).reminder_minutes == 30


@pytest.mark.usefixtures("fast_passwords")
def test_the_settings_page_says_where_each_defaulted_setting_comes_from_and_goes_back_to_the_default() -> (
    None
):
    partner = make_partner("acme")
    tenant = _delegating(partner)
    admin = make_member(tenant, Role.ADMIN)
    partner_default_set(partner=partner, by=None, field="reminder_minutes", value=45)
    partner_default_set(partner=partner, by=None, field="reminder_count", value=6)
    tenant_update_settings(tenant=_fresh(tenant), by=admin, reminder_count=3)
    page = session_client_for(admin, second_factor_age=timedelta(minutes=1))

    shown = page.get(reverse("tenants:settings")).content.decode()
    back = page.post(reverse("tenants:setting_inherit", args=["reminder_count"]))

    minutes = shown.split('data-field="reminder_minutes"', 1)[1].split("</tr>", 1)[0]
    count = shown.split('data-field="reminder_count"', 1)[1].split("</tr>", 1)[0]
    assert "from Acme's defaults" in minutes and "Back to the default" not in minutes
    assert "set for this customer (Acme's default: 6)" in count and "Back to the default" in count
    assert back.status_code == 302
    assert _fresh(tenant).reminder_count == 6


@pytest.mark.usefixtures("fast_passwords")
def test_a_partner_admin_sets_a_default_on_its_page_and_a_mode_default_needs_a_fresh_second_factor() -> None:
    partner = make_partner("acme")
    tenant = _delegating(partner)
    admin = make_partner_user(partner, Role.ADMIN)
    url = reverse("partner_defaults", args=["acme"])
    stale = session_client_for(admin, second_factor_age=timedelta(hours=13))

    asked = stale.post(url, {"response_mode": "authorize"})
    saved = session_client_for(admin, second_factor_age=timedelta(minutes=1)).post(
        url, {"response_mode": "authorize", "reminder_minutes": "20"}
    )

    assert asked.status_code == 302 and "second-factor" in asked["Location"]
    assert saved.status_code == 302
    assert (_fresh(tenant).response_mode, _fresh(tenant).reminder_minutes) == ("authorize", 20)


@pytest.mark.usefixtures("fast_passwords")
def test_a_partners_viewer_reads_its_defaults_and_another_partner_never_sees_them() -> None:
    partner, other = make_partner("acme"), make_partner("globex")
    _delegating(partner)
    url = reverse("partner_defaults", args=["acme"])
    viewer = session_client_for(
        make_partner_user(partner, Role.VIEWER), second_factor_age=timedelta(minutes=1)
    )
    outsider = session_client_for(
        make_partner_user(other, Role.ADMIN), second_factor_age=timedelta(minutes=1)
    )

    assert viewer.get(url).status_code == 200
    assert viewer.post(url, {"reminder_minutes": "20"}).status_code == 403
    assert outsider.get(url).status_code == 404
    assert outsider.post(url, {"reminder_minutes": "20"}).status_code == 404


@pytest.mark.usefixtures("fast_passwords")
def test_the_api_sets_a_partners_defaults_for_its_admins_only_and_the_mode_needs_a_fresh_second_factor() -> (
    None
):
    partner, other = make_partner("acme"), make_partner("globex")
    tenant = _delegating(partner)
    admin = make_partner_user(partner, Role.ADMIN)
    url = "/api/v1/partners/acme/defaults/"
    stale = api_client_for(admin, second_factor_age=None)
    fresh = api_client_for(admin, second_factor_age=timedelta(minutes=1))
    viewer = api_client_for(make_partner_user(partner, Role.VIEWER), second_factor_age=timedelta(minutes=1))
    outsider = api_client_for(make_partner_user(other, Role.ADMIN), second_factor_age=timedelta(minutes=1))

    assert stale.patch(url, {"response_mode": "authorize"}, format="json").status_code == 403
    assert viewer.patch(url, {"reminder_count": 7}, format="json").status_code == 403
    assert outsider.get(url).status_code == 404
    assert stale.patch(url, {"reminder_count": 0}, format="json").status_code == 400
    saved = fresh.patch(url, {"response_mode": "authorize", "reminder_count": 7}, format="json")

    assert saved.status_code == 200 and saved.json() == {
        "response_mode": "authorize",
        "reminder_count": 7,
        "performers": {},
    }
    assert (_fresh(tenant).response_mode, _fresh(tenant).reminder_count) == ("authorize", 7)
    assert viewer.get(url).json() == saved.json()


def test_the_admin_shows_a_default_one_customer_cannot_take_as_a_form_error_and_changes_nothing() -> None:
    partner = make_partner("acme")
    reachable = _delegating(partner)
    unreachable = _delegating(partner, phones=0)
    lead = make_user("lead", staff=True, group="MDR Leads")
    client = session_client_for(lead, second_factor_age=timedelta(minutes=1))

    data = {"partner": str(partner.pk), "field": "authorize_on_no_ack", "value": "true"}
    response = client.post(reverse("admin:tenants_partnerdefault_add"), data)

    assert response.status_code == 200
    assert str(unreachable) in response.content.decode()
    assert not PartnerDefault.objects.filter(partner=partner).exists()
    assert not _fresh(reachable).authorize_on_no_ack
    assert not SettingsChange.objects.filter(tenant=reachable, field="authorize_on_no_ack").exists()

    response = client.post(
        reverse("admin:tenants_partnerdefault_add"), {**data, "field": "reminder_minutes", "value": "30"}
    )
    assert response.status_code == 302
    assert _fresh(reachable).reminder_minutes == _fresh(unreachable).reminder_minutes == 30
