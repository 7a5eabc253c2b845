"""The contacts page: call order, reorder, add, edit, deactivate, with phone and email validation; test calls."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from escalation.calls.dispatch import calls_dispatch
from escalation.calls.progress import call_update
from escalation.models import CallAttempt
from mdrportal.web.tenant_forms import NEEDS_A_WAY, PHONE_INVALID
from tenants.models import Contact, Role, SettingsChange, Tenant
from tenants.rules import LAST_PHONE_CONTACT
from tenants.services import contact_create, contact_update
from tests.factories import client_for, login_verified, make_member, make_partner, make_tenant

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]
LIST = reverse("tenants:contacts")
ADD = reverse("tenants:contact_add")


def names(tenant: Tenant) -> list[str]:
    return list(tenant.contacts.order_by("call_order").values_list("name", flat=True))


def test_contacts_are_listed_in_call_order_with_inactive_ones_marked() -> None:
    tenant = make_tenant(phones=3)
    first = tenant.contacts.order_by("call_order").first()
    contact_update(contact=first, by=None, active=False)
    client = Client()
    login_verified(client, make_member(tenant, Role.VIEWER))

    response = client.get(LIST)

    assert [c.name for c in response.context["contacts"]] == names(tenant)
    html = response.content.decode()
    assert html.index(names(tenant)[0]) < html.index(names(tenant)[1]) < html.index(names(tenant)[2])
    assert 'class="inactive"' in html
    assert b"Add a contact" not in response.content  # a viewer reads only


def test_an_admin_adds_a_contact_at_the_end_of_the_call_order() -> None:
    tenant = make_tenant(phones=2)
    client, admin = client_for(tenant, Role.ADMIN)

    response = client.post(
        ADD,
        {
            "name": "Night shift",
            "email": "night@t.example",
            "phone": "+44 20 7946 0958",
            "can_authorize": "on",
            "channels": ["voice", "email"],
        },
    )

    assert response.status_code == 302
    contact = Contact.objects.get(tenant=tenant, name="Night shift")
    assert (str(contact.phone), contact.call_order, contact.can_authorize) == ("+442079460958", 3, True)
    assert SettingsChange.objects.filter(
        tenant=tenant, field="contact", subject="Night shift", actor=admin
    ).exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "A", "phone": "2025550100"}, "phone", PHONE_INVALID),  # no country code
        ({"name": "A", "phone": "+1 202 555"}, "phone", PHONE_INVALID),  # too short for its country
        ({"name": "A", "phone": "+999 123456"}, "phone", PHONE_INVALID),  # no such country
        ({"name": "A", "email": "not-an-address"}, "email", "Enter a valid email address."),
        ({"name": "A"}, None, NEEDS_A_WAY),
        ({"name": "", "phone": "+12025550100"}, "name", "This field is required."),
    ],
)
def test_phone_numbers_and_emails_are_validated(
    data: dict[str, str], field: str | None, message: str
) -> None:
    tenant = make_tenant(phones=1)
    client, _ = client_for(tenant, Role.ADMIN)

    response = client.post(ADD, {"channels": ["email"], **data})

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert message in (errors[field] if field else errors["__all__"])
    assert tenant.contacts.count() == 1


def test_an_admin_edits_a_contact_and_the_form_shows_the_number_in_international_format() -> None:
    tenant = make_tenant(phones=1)
    client, admin = client_for(tenant, Role.ADMIN)
    contact = tenant.contacts.get()
    url = reverse("tenants:contact_edit", args=[contact.pk])
    assert "+12025550100" in client.get(url).content.decode().replace(" ", "")

    response = client.post(
        url, {"name": "Renamed", "email": "", "phone": "+33 6 12 34 56 78", "channels": ["voice"]}
    )

    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.name, str(contact.phone), contact.email) == ("Renamed", "+33612345678", "")
    change = SettingsChange.objects.filter(tenant=tenant, field="contact", actor=admin).get()
    assert change.before["phone"] == "+12025550100" and change.after["phone"] == "+33612345678"


def test_deactivating_keeps_the_contact_and_stops_notifying_it() -> None:
    tenant = make_tenant(phones=2)
    client, _ = client_for(tenant, Role.ADMIN)
    contact = tenant.contacts.order_by("call_order").first()

    response = client.post(reverse("tenants:contact_active", args=[contact.pk]), {"active": "0"}, follow=True)

    contact.refresh_from_db()
    assert contact.active is False
    assert "deactivated: no longer notified" in response.content.decode()
    client.post(reverse("tenants:contact_active", args=[contact.pk]), {"active": "1"})
    contact.refresh_from_db()
    assert contact.active is True


def test_the_last_phone_contact_cannot_be_deactivated_while_the_fallback_is_on() -> None:
    tenant = make_tenant(phones=1, fallback=True)
    client, _ = client_for(tenant, Role.ADMIN)
    contact = tenant.contacts.get()

    response = client.post(reverse("tenants:contact_active", args=[contact.pk]), {"active": "0"}, follow=True)

    contact.refresh_from_db()
    assert contact.active is True
    assert LAST_PHONE_CONTACT in response.content.decode()


def test_removing_the_last_phone_number_while_the_fallback_is_on_is_refused_on_the_form() -> None:
    tenant = make_tenant(phones=1, fallback=True)
    client, _ = client_for(tenant, Role.ADMIN)
    contact = tenant.contacts.get()

    response = client.post(
        reverse("tenants:contact_edit", args=[contact.pk]),
        {"name": contact.name, "email": "a@t.example", "channels": ["email"]},
    )

    assert response.status_code == 400
    assert LAST_PHONE_CONTACT in response.content.decode()
    contact.refresh_from_db()
    assert contact.phone


def test_up_and_down_buttons_reorder_the_call_tree_through_the_service() -> None:
    tenant = make_tenant(phones=3)
    client, admin = client_for(tenant, Role.ADMIN)
    a, b, c = names(tenant)
    last = tenant.contacts.get(name=c)

    client.post(reverse("tenants:contact_move", args=[last.pk]), {"direction": "up"})
    assert names(tenant) == [a, c, b]
    client.post(reverse("tenants:contact_move", args=[last.pk]), {"direction": "up"})
    assert names(tenant) == [c, a, b]
    client.post(reverse("tenants:contact_move", args=[last.pk]), {"direction": "up"})  # already first
    assert names(tenant) == [c, a, b]
    first = tenant.contacts.get(name=a)
    client.post(reverse("tenants:contact_move", args=[first.pk]), {"direction": "down"})
    assert names(tenant) == [c, b, a]

    audits = SettingsChange.objects.filter(tenant=tenant, field="call_order", actor=admin).order_by(
        "at", "id"
    )
    assert [x.after for x in audits] == [[a, c, b], [c, a, b], [c, b, a]]
    assert (
        client.post(reverse("tenants:contact_move", args=[first.pk]), {"direction": "x"}).status_code == 400
    )


def test_a_partner_contact_is_not_a_page_of_the_tenant() -> None:
    partner = make_partner()
    tenant = make_tenant(phones=1, partner=partner)
    noc = contact_create(partner=partner, by=None, name="NOC", phone="+12025550190")
    client, _ = client_for(tenant, Role.ADMIN)

    assert client.get(reverse("tenants:contact_edit", args=[noc.pk])).status_code == 404


def dial_url(contact: Contact) -> str:
    return reverse("tenants:contact_test_call", args=[contact.pk])


def test_an_admin_places_a_test_call_and_the_page_shows_its_outcome(settings: Any) -> None:
    settings.TWILIO_AUTH_TOKEN = ""  # the simulated phone
    tenant = make_tenant(phones=2)
    client, admin = client_for(tenant, Role.ADMIN)
    contact = tenant.contacts.order_by("call_order").first()
    assert client.get(LIST).content.decode().count(">Test call</button>") == 2

    response = client.post(dial_url(contact), follow=True)

    assert response.redirect_chain == [(LIST, 302)]
    assert f"Calling {contact.name}" in response.content.decode()
    call = CallAttempt.objects.get(contact=contact, run=None)
    assert call.tested_by == admin
    calls_dispatch(max_seconds=5)
    assert "ringing" in client.get(LIST).content.decode()
    again = client.post(dial_url(contact), follow=True).content.decode()
    assert "already under way" in again

    for update in (
        {"status": "in-progress", "answered_by": "human"},
        {"digits": "1"},
        {"status": "completed"},
    ):
        call_update(attempt_id=call.pk, **update)

    html = client.get(LIST).content.decode()
    assert "answered, pressed 1" in html
    call.refresh_from_db()
    assert f"{call.ended_at:%Y-%m-%d %H:%M}" in html


def test_a_viewer_sees_the_outcome_but_may_not_place_a_test_call() -> None:
    tenant = make_tenant(phones=1)
    client = Client()
    login_verified(client, make_member(tenant, Role.VIEWER))

    assert client.post(dial_url(tenant.contacts.get())).status_code == 403

    assert not CallAttempt.objects.exists()
    assert ">Test call</button>" not in client.get(LIST).content.decode()


def test_a_contact_without_a_phone_has_no_test_call_button() -> None:
    tenant = make_tenant(phones=1)
    client, _ = client_for(tenant, Role.ADMIN)
    contact_create(tenant=tenant, by=None, name="Mail only", email="mail@t.example")

    html = client.get(LIST).content.decode()

    assert html.count(">Test call</button>") == 1
