"""The tenants admin as MDR leads use it: adding a tenant, its contacts' phones and call order, and the
fallback rule that needs a phone."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client

from tenants.models import Contact, Tenant
from tenants.rules import FALLBACK_NEEDS_PHONE, LAST_PHONE_CONTACT
from tenants.services import contact_create
from tests.admin_pages import add_row, inline_formset, page_data, page_errors, row_index
from tests.factories import make_tenant
from tests.tenant_admin import ADD_URL, audit, change_url, contacts

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


# Adding a tenant


def test_lead_adds_tenant_with_two_contacts_and_the_fallback_in_one_submission(lead_client: Client) -> None:
    data = page_data(lead_client.get(ADD_URL))
    data.update(name="Globex", slug="globex", tier="complete", authorize_on_no_ack="on")
    data["contacts-TOTAL_FORMS"] = "0"
    both = ["voice", "email"]
    add_row(
        data,
        "contacts",
        position=1,
        name="Ada",
        phone="+12025550100",
        can_authorize=True,
        active=True,
        channels=both,
    )
    add_row(data, "contacts", position=2, name="Bob", phone="+12025550101", active=True, channels=both)

    response = lead_client.post(ADD_URL, data)

    assert response.status_code == 302, page_errors(response)
    tenant = Tenant.objects.get(slug="globex")
    assert (tenant.tier, tenant.authorize_on_no_ack) == ("complete", True)
    assert contacts(tenant) == [("Ada", 1, "+12025550100", True), ("Bob", 2, "+12025550101", True)]
    rows = audit(tenant)
    assert [r.field for r in rows] == ["created", "contact", "contact", "authorize_on_no_ack"]
    assert {r.actor_label for r in rows} == {"lead"}
    assert (rows[-1].before, rows[-1].after) == (False, True)
    assert [r.subject for r in rows if r.field == "contact"] == ["Ada", "Bob"]
    entry = LogEntry.objects.get(object_id=str(tenant.pk), content_type__model="tenant")
    assert entry.is_addition()
    assert "Added contact \u201cAda\u201d" in entry.get_change_message()


def test_adding_tenant_with_fallback_but_no_phone_is_refused_and_saves_nothing(lead_client: Client) -> None:
    data = page_data(lead_client.get(ADD_URL))
    data.update(name="Globex", slug="globex", authorize_on_no_ack="on")
    data["contacts-TOTAL_FORMS"] = "0"
    add_row(data, "contacts", name="Ada", email="ada@globex.example", active=True, channels=["email"])

    response = lead_client.post(ADD_URL, data)

    assert response.status_code == 200
    assert FALLBACK_NEEDS_PHONE in page_errors(response)
    assert not Tenant.objects.filter(slug="globex").exists()
    assert not Contact.objects.filter(name="Ada").exists()


# The fallback checkbox and the contacts' phones


@pytest.mark.parametrize(
    "contact", [{"phone": ""}, {"phone": "+12025550100", "active": False}], ids=["no phone", "inactive"]
)
def test_ticking_fallback_without_an_active_phone_contact_is_refused(
    lead_client: Client, contact: dict[str, Any]
) -> None:
    tenant = make_tenant(phones=0)
    contact_create(tenant=tenant, by=None, name="Ada", email="ada@t.example", **contact)
    before = audit(tenant)
    data = page_data(lead_client.get(change_url(tenant)))
    data["authorize_on_no_ack"] = "on"

    response = lead_client.post(change_url(tenant), data)

    assert response.status_code == 200
    assert FALLBACK_NEEDS_PHONE in page_errors(response)
    assert FALLBACK_NEEDS_PHONE in response.content.decode()  # shown above the contacts
    tenant.refresh_from_db()
    assert tenant.authorize_on_no_ack is False
    assert audit(tenant) == before


def test_ticking_fallback_with_a_phone_contact_is_saved_and_audited(lead_client: Client) -> None:
    tenant = make_tenant(phones=1)
    data = page_data(lead_client.get(change_url(tenant)))
    data["authorize_on_no_ack"] = "on"

    response = lead_client.post(change_url(tenant), data)

    assert response.status_code == 302, page_errors(response)
    tenant.refresh_from_db()
    assert tenant.authorize_on_no_ack is True
    (row,) = audit(tenant, "authorize_on_no_ack")
    assert (row.before, row.after, row.actor_label) == (False, True, "lead")


@pytest.mark.parametrize(
    "change",
    [{"active": None}, {"phone": ""}, {"channels": ["email"]}],
    ids=["deactivate", "blank the phone", "stop taking calls"],
)
def test_last_phone_contact_cannot_be_lost_while_fallback_is_on(
    lead_client: Client, change: dict[str, Any]
) -> None:
    tenant = make_tenant(phones=1, fallback=True)
    contact_create(tenant=tenant, by=None, name="No phone", email="np@t.example")
    phone_contact = tenant.contacts.get(call_order=1)
    before_contacts, before_audit = contacts(tenant), audit(tenant)
    data = page_data(lead_client.get(change_url(tenant)))
    i = row_index(data, "contacts", phone_contact.pk)
    for name, value in change.items():
        if value is None:
            data.pop(f"contacts-{i}-{name}", None)
        else:
            data[f"contacts-{i}-{name}"] = value

    response = lead_client.post(change_url(tenant), data)

    assert response.status_code == 200
    assert LAST_PHONE_CONTACT in page_errors(response)
    assert contacts(tenant) == before_contacts
    assert audit(tenant) == before_audit


def test_phone_contact_can_be_deactivated_while_another_phone_contact_remains(lead_client: Client) -> None:
    tenant = make_tenant(phones=2, fallback=True)
    first = tenant.contacts.get(call_order=1)
    data = page_data(lead_client.get(change_url(tenant)))
    data.pop(f"contacts-{row_index(data, 'contacts', first.pk)}-active")

    response = lead_client.post(change_url(tenant), data)

    assert response.status_code == 302, page_errors(response)
    first.refresh_from_db()
    assert first.active is False
    (row,) = audit(tenant, "contact")[-1:]
    assert (row.subject, row.before["active"], row.after["active"]) == (first.name, True, False)


def test_fallback_can_be_turned_off_and_the_phone_blanked_in_one_submission(lead_client: Client) -> None:
    tenant = make_tenant(phones=1, fallback=True)
    data = page_data(lead_client.get(change_url(tenant)))
    data.pop("authorize_on_no_ack")
    data["contacts-0-phone"] = ""

    response = lead_client.post(change_url(tenant), data)

    assert response.status_code == 302, page_errors(response)
    tenant.refresh_from_db()
    assert tenant.authorize_on_no_ack is False
    assert contacts(tenant)[0][2] == ""


@pytest.mark.parametrize("phone", ["12345", "+1 555"])
def test_invalid_phone_is_a_form_error_on_the_phone_field(lead_client: Client, phone: str) -> None:
    tenant = make_tenant(phones=1)
    before = contacts(tenant)
    data = page_data(lead_client.get(change_url(tenant)))
    data["contacts-0-phone"] = phone

    response = lead_client.post(change_url(tenant), data)

    assert response.status_code == 200
    form = inline_formset(response, "contacts").forms[0]
    assert "phone" in form.errors
    assert contacts(tenant) == before


def test_invalid_phone_on_a_new_contact_is_a_form_error(lead_client: Client) -> None:
    tenant = make_tenant(phones=1)
    data = page_data(lead_client.get(change_url(tenant)))
    data["contacts-1-name"] = "Eve"
    data["contacts-1-phone"] = "12345"

    response = lead_client.post(change_url(tenant), data)

    assert response.status_code == 200
    assert "phone" in inline_formset(response, "contacts").forms[1].errors
    assert not tenant.contacts.filter(name="Eve").exists()


# Call order


def test_swapping_two_contacts_positions_reorders_them_and_audits_the_call_order(lead_client: Client) -> None:
    tenant = make_tenant(phones=3)
    first, second, third = tenant.contacts.order_by("call_order")
    data = page_data(lead_client.get(change_url(tenant)))
    data[f"contacts-{row_index(data, 'contacts', first.pk)}-position"] = "2"
    data[f"contacts-{row_index(data, 'contacts', second.pk)}-position"] = "1"

    response = lead_client.post(change_url(tenant), data)

    assert response.status_code == 302, page_errors(response)
    assert [name for name, *_ in contacts(tenant)] == [second.name, first.name, third.name]
    (row,) = audit(tenant, "call_order")
    assert row.before == [first.name, second.name, third.name]
    assert row.after == [second.name, first.name, third.name]
    assert row.actor_label == "lead"


def test_two_contacts_in_the_same_position_are_refused(lead_client: Client) -> None:
    tenant = make_tenant(phones=2)
    before = contacts(tenant)
    data = page_data(lead_client.get(change_url(tenant)))
    data["contacts-0-position"] = data["contacts-1-position"] = "1"

    response = lead_client.post(change_url(tenant), data)

    assert response.status_code == 200
    assert "same place in the call order" in page_errors(response)
    assert contacts(tenant) == before


def test_new_contact_without_position_is_called_last(lead_client: Client) -> None:
    tenant = make_tenant(phones=2)
    data = page_data(lead_client.get(change_url(tenant)))
    data.update({"contacts-2-name": "Eve", "contacts-2-phone": "+12025550199"})

    response = lead_client.post(change_url(tenant), data)

    assert response.status_code == 302, page_errors(response)
    assert contacts(tenant)[-1] == ("Eve", 3, "+12025550199", True)
    assert audit(tenant, "call_order") == []
