"""A partner's users decide for a customer only what the customer delegated: enforced by the services
whoever calls them, offered on the settings page to the customer's own admins, set by MDR leads only with a
reason, never passed on to another partner, and every decision under it names the partner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from escalation.acknowledgments.services import acknowledgment_record
from incidents.models import Channel, EventKind
from tenants.models import PartnerMembership, Role, SettingsChange, Tenant
from tenants.services import (
    contact_update,
    tenant_delegation_set,
    tenant_update_settings,
)
from tests.admin_pages import page_data, page_errors
from tests.credentials import api_client_for
from tests.factories import (
    first_contact,
    make_incident,
    make_lead,
    make_member,
    make_partner,
    make_partner_user,
    make_tenant,
    make_user,
    portal,
    portal_decision,
    propose,
)
from tests.tenant_admin import change_url
from tests.web_sessions import session_client_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]
FRESH = timedelta(minutes=1)


@pytest.fixture
def served() -> Tenant:
    return make_tenant(partner=make_partner("acme"))


def test_the_services_refuse_a_partner_user_the_customer_did_not_delegate_to(served: Tenant) -> None:
    partner_admin = make_partner_user(served.partner, Role.ADMIN)
    incident = make_incident(served)
    action = propose(incident, "isolate_endpoint")

    with pytest.raises(PermissionDenied):
        tenant_update_settings(tenant=served, by=partner_admin, response_mode="authorize")
    with pytest.raises(PermissionDenied):
        contact_update(contact=first_contact(served), by=partner_admin, can_authorize=False)
    with pytest.raises(ValidationError):
        portal_decision(incident, [action], partner_admin)
    with pytest.raises(ValidationError):
        acknowledgment_record(incident=incident, channel=Channel.PORTAL, user=partner_admin)
    served.refresh_from_db()
    assert served.response_mode == "collaborate" and not incident.authorizations.exists()


def test_a_decision_under_delegation_names_the_partner_on_the_timeline(served: Tenant) -> None:
    tenant_delegation_set(tenant=served, by=None, partner_decides=True, partner_manages_settings=False)
    engineer = make_partner_user(served.partner, Role.APPROVER, username="eng")
    incident = make_incident(served)
    action = propose(incident, "isolate_endpoint")

    portal_decision(incident, [action], engineer)
    acknowledgment_record(incident=incident, channel=Channel.PORTAL, user=engineer)

    given = incident.events.get(kind=EventKind.AUTHORIZATION_GIVEN)
    assert given.summary.startswith(f"Acme (partner) authorized in writing for {served} under its delegation")
    assert given.actor_label == f"eng (Acme partner, under {served}'s delegation)"
    acknowledged = incident.events.get(kind=EventKind.ACKNOWLEDGED)
    assert acknowledged.summary.startswith(f"Acme (partner) acknowledged for {served} under its delegation")
    # Settings stay the customer's: deciding was delegated, managing them was not.
    with pytest.raises(PermissionDenied):
        tenant_update_settings(tenant=served, by=engineer, response_mode="authorize")


def test_a_customer_admin_delegates_on_the_settings_page_and_the_history_names_the_partner(
    served: Tenant,
) -> None:
    admin = make_member(served, Role.ADMIN)
    client = portal(admin)
    assert b'id="delegation-form"' in client.get(reverse("tenants:settings")).content

    response = client.post(reverse("tenants:delegation"), {"partner_decides": "on"})

    assert response.status_code == 302
    served.refresh_from_db()
    assert served.partner_decides and not served.partner_manages_settings
    change = SettingsChange.objects.get(tenant=served, field="partner_delegation")
    assert change.subject == "Acme (partner)" and change.actor == admin
    assert change.after == {"partner_decides": True, "partner_manages_settings": False}
    page = client.get(reverse("tenants:settings")).content.decode()
    assert "What the partner may do: Acme (partner)" in page


def test_a_partner_admin_managing_settings_changes_them_but_never_the_delegation(served: Tenant) -> None:
    tenant_delegation_set(tenant=served, by=None, partner_decides=False, partner_manages_settings=True)
    partner_admin = make_partner_user(served.partner, Role.ADMIN, username="msp-admin")
    client = portal(partner_admin, served)
    page = client.get(reverse("tenants:settings"))
    assert page.context["editable"] and not page.context["delegation_editable"]

    refused = client.post(reverse("tenants:delegation"), {"partner_decides": "on"})

    assert refused.status_code == 403
    served.refresh_from_db()
    assert not served.partner_decides
    api = api_client_for(partner_admin, second_factor_age=FRESH)
    changed = api.patch(f"/api/v1/tenants/{served.pk}/", {"response_mode": "authorize"}, format="json")
    assert changed.status_code == 200
    audit = SettingsChange.objects.get(tenant=served, field="response_mode")
    assert audit.actor_label == f"msp-admin (Acme partner, under {served}'s delegation)"
    # Deciding on actions was not delegated: the approvals page is closed to the partner.
    assert client.get(reverse("incidents:approvals")).status_code == 403


def test_a_partner_user_without_delegation_reads_the_customer_but_is_offered_no_decision(
    served: Tenant,
) -> None:
    partner_admin = make_partner_user(served.partner, Role.ADMIN)
    incident = make_incident(served)
    client = portal(partner_admin, served)

    detail = client.get(reverse("incidents:detail", args=[incident.pk]))
    settings_page = client.get(reverse("tenants:settings"))

    assert detail.status_code == 200 and not detail.context["can_acknowledge"]
    assert settings_page.status_code == 200 and not settings_page.context["editable"]
    assert client.get(reverse("incidents:approvals")).status_code == 403


def test_an_mdr_lead_changes_the_delegation_in_the_admin_only_with_a_reason(served: Tenant) -> None:
    lead = make_lead()
    client = session_client_for(lead, second_factor_age=FRESH)
    data = page_data(client.get(change_url(served)))
    data["partner_manages_settings"] = "on"

    refused = client.post(change_url(served), data)

    assert refused.status_code == 200 and "Say why" in page_errors(refused)
    data["delegation_reason"] = "The customer's CISO asked in ticket 4711."
    assert client.post(change_url(served), data).status_code == 302
    served.refresh_from_db()
    assert served.partner_manages_settings
    change = SettingsChange.objects.get(tenant=served, field="partner_delegation")
    assert change.after["reason"] == "The customer's CISO asked in ticket 4711." and change.actor == lead


def test_an_mdr_lead_changes_it_through_the_api_only_with_a_reason(served: Tenant) -> None:
    api = api_client_for(make_lead(), second_factor_age=FRESH)
    url = f"/api/v1/tenants/{served.pk}/delegation/"
    wanted = {"partner_decides": True, "partner_manages_settings": False}

    assert api.put(url, wanted, format="json").status_code == 400
    done = api.put(url, {**wanted, "reason": "Ticket 4711."}, format="json")

    assert done.status_code == 200
    assert done.json() == {"partner": "Acme", **wanted}


def test_a_new_partner_does_not_inherit_what_the_customer_delegated_to_the_last(served: Tenant) -> None:
    tenant_delegation_set(tenant=served, by=None, partner_decides=True, partner_manages_settings=True)

    tenant_update_settings(tenant=served, by=None, partner=make_partner("other"))

    served.refresh_from_db()
    assert not served.partner_decides and not served.partner_manages_settings
    reset = SettingsChange.objects.filter(tenant=served, field="partner_delegation").order_by("id").last()
    assert reset.subject == "Acme (partner)" and reset.after["reason"] == "partner changed"


def test_a_customer_without_a_partner_delegates_nothing() -> None:
    tenant = make_tenant()
    with pytest.raises(ValidationError):
        tenant_delegation_set(tenant=tenant, by=None, partner_decides=True, partner_manages_settings=False)


def test_giving_a_partner_user_a_role_in_the_admin_needs_a_fresh_second_factor(served: Tenant) -> None:
    """A partner's roles say who decides under a delegation: a deciding write like a customer's logins."""
    user = make_user("msp-engineer")
    data = {"user": user.pk, "partner": served.partner.pk, "role": "approver"}
    url = reverse("admin:tenants_partnermembership_add")
    stale = session_client_for(make_lead(), second_factor_age=timedelta(hours=13))

    refused = stale.post(url, data)

    assert "step_up=1" in refused["Location"]
    assert not PartnerMembership.objects.exists()
    fresh = session_client_for(make_lead("lead2"), second_factor_age=FRESH)
    assert fresh.post(url, data).status_code == 302
    assert PartnerMembership.objects.get().role == "approver"
