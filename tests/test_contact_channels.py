"""A contact's channels: voice and email unless chosen otherwise, known values once each, at least one, and
SMS only with a phone number; the same rule through the API, the contacts page and the admin."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from escalation.runs.services import notification_start, run_advance
from tenants.channels import SMS_NEEDS_PHONE
from tenants.models import Contact, Role, SettingsChange, Tenant
from tenants.services import contact_create, contact_update
from tests.admin_pages import page_data, row_index
from tests.factories import api_token, login_verified, make_incident, make_member, make_tenant, make_user

pytestmark = pytest.mark.django_db


def api_admin(tenant: Tenant) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(make_member(tenant, Role.ADMIN))}")
    return client


def add(client: APIClient, tenant: Tenant, **fields: Any) -> Any:
    return client.post(
        f"/api/v1/tenants/{tenant.pk}/contacts/", {"name": "Night shift", **fields}, format="json"
    )


def test_a_new_contact_is_reached_by_voice_and_email_unless_it_chooses() -> None:
    tenant = make_tenant(phones=0)
    client = api_admin(tenant)

    default = add(client, tenant, email="night@t.example", phone="+12025550199")
    chosen = add(client, tenant, email="day@t.example", phone="+12025550198", channels=["sms", "email"])

    assert default.status_code == 201 and default.json()["channels"] == ["voice", "email"]
    assert chosen.status_code == 201 and chosen.json()["channels"] == ["sms", "email"]
    assert Contact.objects.get(pk=chosen.json()["id"]).channels == ["sms", "email"]
    assert chosen.json()["sms_opted_out_at"] is None


@pytest.mark.parametrize(
    ("channels", "message"),
    [
        (["fax"], "is not a valid choice"),
        (["voice", "voice"], "Each channel can be chosen once."),
        ([], "Ensure this field has at least 1 elements."),
        ("voice", 'Expected a list of items but got type "str".'),
    ],
)
def test_bad_channels_are_refused_with_a_field_error_and_nothing_is_saved(
    channels: Any, message: str
) -> None:
    tenant = make_tenant(phones=1)

    response = add(api_admin(tenant), tenant, phone="+12025550199", channels=channels)

    assert response.status_code == 400
    assert message in str(response.json()["channels"]), response.json()
    assert tenant.contacts.count() == 1


def test_sms_without_a_phone_number_is_refused_on_create_and_on_change() -> None:
    tenant = make_tenant(phones=1)
    client = api_admin(tenant)

    created = add(client, tenant, email="night@t.example", channels=["sms"])
    contact = tenant.contacts.get()
    dropped = client.patch(
        f"/api/v1/contacts/{contact.pk}/", {"phone": "", "email": "a@t.example"}, format="json"
    )
    contact_sms = client.patch(f"/api/v1/contacts/{contact.pk}/", {"channels": ["sms"]}, format="json")
    phone_gone = client.patch(f"/api/v1/contacts/{contact.pk}/", {"phone": ""}, format="json")

    assert created.status_code == 400 and created.json()["channels"] == [SMS_NEEDS_PHONE]
    assert tenant.contacts.count() == 1
    assert dropped.status_code == 200  # voice and email: a contact may lose its phone
    assert contact_sms.status_code == 400 and contact_sms.json()["channels"] == [SMS_NEEDS_PHONE]
    assert phone_gone.status_code == 200
    contact.refresh_from_db()
    assert contact.channels == ["voice", "email"]


def test_a_change_of_channels_is_audited() -> None:
    tenant = make_tenant(phones=1)
    contact = tenant.contacts.get()

    response = api_admin(tenant).patch(
        f"/api/v1/contacts/{contact.pk}/", {"channels": ["voice", "sms"]}, format="json"
    )

    assert response.status_code == 200
    change = SettingsChange.objects.filter(tenant=tenant, field="contact", subject=contact.name).first()
    assert (change.before["channels"], change.after["channels"]) == (["voice", "email"], ["voice", "sms"])


def test_the_schema_names_the_channels_and_their_choices(client: Client) -> None:
    schema = client.get("/api/schema/", {"format": "json"}).json()

    contact = schema["components"]["schemas"]["Contact"]["properties"]
    items = contact["channels"]["items"]
    choices = items.get("enum") or schema["components"]["schemas"][items["$ref"].rsplit("/", 1)[1]]["enum"]
    assert set(choices) == {"voice", "sms", "email"}
    assert contact["sms_opted_out_at"]["readOnly"] is True


def test_the_contacts_page_lets_an_admin_choose_texts_and_refuses_them_without_a_phone() -> None:
    tenant = make_tenant(phones=1)
    client = Client()
    login_verified(client, make_member(tenant, Role.ADMIN))
    add_page = reverse("tenants:contact_add")

    form = client.get(add_page).content.decode()
    refused = client.post(
        add_page, {"name": "Mail only", "email": "m@t.example", "channels": ["sms", "email"]}
    )
    accepted = client.post(add_page, {"name": "Texter", "phone": "+12025550199", "channels": ["sms"]})

    assert 'value="sms"' in form and re.search(r'value="voice"[^>]*checked', form)
    assert refused.status_code == 400 and SMS_NEEDS_PHONE in refused.context["form"].errors["channels"]
    assert accepted.status_code == 302
    assert tenant.contacts.get(name="Texter").channels == ["sms"]
    assert "sms" in client.get(reverse("tenants:contacts")).content.decode()


def test_the_admin_refuses_texts_for_a_contact_without_a_phone(client: Client) -> None:
    login_verified(client, make_user("lead", staff=True, group="MDR Leads"))
    tenant = make_tenant(phones=1)
    contact = contact_create(tenant=tenant, by=None, name="Mail only", email="m@t.example")
    url = reverse("admin:tenants_tenant_change", args=[tenant.pk])
    data = page_data(client.get(url))
    data[f"contacts-{row_index(data, 'contacts', contact.pk)}-channels"] = ["sms"]

    response = client.post(url, data)

    assert response.status_code == 200
    assert SMS_NEEDS_PHONE in response.content.decode()
    contact.refresh_from_db()
    assert contact.channels == ["voice", "email"]


def test_a_run_emails_and_texts_each_contact_by_the_channels_it_chose() -> None:
    tenant = make_tenant(phones=3)
    default, texts_too, no_email = tenant.contacts.order_by("call_order")
    contact_update(contact=texts_too, by=None, channels=["voice", "sms", "email"])
    contact_update(contact=no_email, by=None, channels=["voice", "sms"])
    run = notification_start(incident=make_incident(tenant), by=None)

    run_advance(run.pk)

    assert set(run.emails.values_list("contact_id", flat=True)) == {default.pk, texts_too.pk}
    assert set(run.texts.values_list("contact_id", flat=True)) == {texts_too.pk, no_email.pk}
