"""The tenants admin: performers under Collaborate, customer users, the response settings and partners, each
change audited."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tenants.models import ActionPerformer, Membership, Partner
from tenants.services import contact_create
from tests.admin_pages import add_row, inline_formset, page_data, page_errors
from tests.factories import make_partner, make_tenant, make_user
from tests.tenant_admin import audit, change_url, save_change_page

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


# Performers under Collaborate


def test_setting_changing_and_deleting_a_performer_inline_is_audited_each_time(lead_client: Client) -> None:
    tenant = make_tenant(partner=make_partner())

    data = page_data(lead_client.get(change_url(tenant)))
    add_row(data, "performers", action_code="disable_user", performer="customer")
    response = lead_client.post(change_url(tenant), data)
    assert response.status_code == 302, page_errors(response)
    assert ActionPerformer.objects.get(tenant=tenant, action_code="disable_user").performer == "customer"

    save_change_page(lead_client, tenant, {"performers-0-performer": "partner"})
    assert ActionPerformer.objects.get(tenant=tenant, action_code="disable_user").performer == "partner"

    save_change_page(lead_client, tenant, {"performers-0-DELETE": "on"})
    assert not ActionPerformer.objects.filter(tenant=tenant).exists()

    rows = audit(tenant, "performer")
    assert [(r.subject, r.before, r.after) for r in rows] == [
        ("disable_user", "mdr", "customer"),
        ("disable_user", "customer", "partner"),
        ("disable_user", "partner", "mdr"),
    ]
    assert {r.actor_label for r in rows} == {"lead"}


def test_changing_a_performers_action_type_moves_the_delegation(lead_client: Client) -> None:
    tenant = make_tenant(performers={"disable_user": "customer"})
    data = page_data(lead_client.get(change_url(tenant)))
    data["performers-0-action_code"] = "block_domain"

    response = lead_client.post(change_url(tenant), data)

    assert response.status_code == 302, page_errors(response)
    assert dict(tenant.performers.values_list("action_code", "performer")) == {"block_domain": "customer"}
    rows = audit(tenant, "performer")[-2:]
    assert [(r.subject, r.before, r.after) for r in rows] == [
        ("disable_user", "customer", "mdr"),
        ("block_domain", "mdr", "customer"),
    ]


def test_partner_performer_for_a_tenant_without_partner_is_a_form_error(lead_client: Client) -> None:
    tenant = make_tenant()
    data = page_data(lead_client.get(change_url(tenant)))
    add_row(data, "performers", action_code="disable_user", performer="partner")

    response = lead_client.post(change_url(tenant), data)

    assert response.status_code == 200
    assert "no partner" in page_errors(response)
    assert not ActionPerformer.objects.filter(tenant=tenant).exists()
    assert audit(tenant, "performer") == []


def test_removing_the_partner_while_it_performs_an_action_type_is_a_form_error(lead_client: Client) -> None:
    tenant = make_tenant(partner=make_partner(), performers={"disable_user": "partner"})
    data = page_data(lead_client.get(change_url(tenant)))
    data["partner"] = ""

    response = lead_client.post(change_url(tenant), data)

    assert response.status_code == 200
    assert "no partner" in str(inline_formset(response, "performers").forms[0].errors["performer"])
    tenant.refresh_from_db()
    assert tenant.partner is not None
    assert audit(tenant, "partner") == []


# Customer users


def test_adding_and_removing_a_customer_user_inline_is_audited(lead_client: Client) -> None:
    tenant = make_tenant()
    customer = make_user("carol")

    data = page_data(lead_client.get(change_url(tenant)))
    add_row(data, "memberships", user=customer.pk, role="approver")
    response = lead_client.post(change_url(tenant), data)
    assert response.status_code == 302, page_errors(response)
    assert Membership.objects.get(tenant=tenant, user=customer).role == "approver"

    save_change_page(lead_client, tenant, {"memberships-0-DELETE": "on"})
    assert not Membership.objects.filter(tenant=tenant).exists()

    rows = audit(tenant, "membership")
    assert [(r.subject, r.before, r.after) for r in rows] == [
        ("carol", None, "approver"),
        ("carol", "approver", None),
    ]


# Settings


def test_changing_the_response_mode_is_audited_with_before_and_after(lead_client: Client) -> None:
    tenant = make_tenant()
    data = page_data(lead_client.get(change_url(tenant)))
    data["response_mode"] = "authorize"

    response = lead_client.post(change_url(tenant), data)

    assert response.status_code == 302, page_errors(response)
    tenant.refresh_from_db()
    assert tenant.response_mode == "authorize"
    (row,) = audit(tenant, "response_mode")
    assert (row.before, row.after, row.actor.username) == ("collaborate", "authorize", "lead")


def test_saving_an_unchanged_tenant_writes_no_audit_row(lead_client: Client) -> None:
    tenant = make_tenant(phones=2, fallback=True, performers={"disable_user": "customer"})
    before = audit(tenant)

    response = lead_client.post(change_url(tenant), page_data(lead_client.get(change_url(tenant))))

    assert response.status_code == 302, page_errors(response)
    assert audit(tenant) == before


# Partners


def test_lead_adds_a_partner_with_a_contact(lead_client: Client) -> None:
    url = reverse("admin:tenants_partner_add")
    data = page_data(lead_client.get(url))
    data.update(name="Northwind IT", slug="northwind")
    data.update({"contacts-0-name": "MSP desk", "contacts-0-phone": "+12025550150"})

    response = lead_client.post(url, data)

    assert response.status_code == 302, page_errors(response)
    partner = Partner.objects.get(slug="northwind")
    assert [(c.name, c.call_order, str(c.phone)) for c in partner.contacts.all()] == [
        ("MSP desk", 1, "+12025550150")
    ]


def test_partner_contacts_in_the_same_position_are_refused(lead_client: Client) -> None:
    partner = make_partner()
    for name in ("Desk", "Lead"):
        contact_create(partner=partner, by=None, name=name, phone="+12025550150")
    url = reverse("admin:tenants_partner_change", args=[partner.pk])
    data = page_data(lead_client.get(url))
    data["contacts-0-position"] = data["contacts-1-position"] = "1"

    response = lead_client.post(url, data)

    assert response.status_code == 200
    assert "same place in the call order" in page_errors(response)
    assert list(partner.contacts.values_list("name", "call_order")) == [("Desk", 1), ("Lead", 2)]
