"""The tenants admin as MDR leads use it: settings, contacts, performers, the fallback rule and the audit."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

from tenants.models import ActionPerformer, Contact, Membership, Partner, SettingsChange, Tenant
from tenants.rules import FALLBACK_NEEDS_PHONE, LAST_PHONE_CONTACT
from tenants.services import contact_create
from tests.factories import login_verified, make_analyst, make_member, make_partner, make_tenant, make_user

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:tenants_tenant_add")
CHANGELIST = reverse("admin:tenants_tenant_changelist")

# Pinned query counts: they must not grow with the number of rows shown.
# session, user, user and group permissions, partner filter, two counts, the page
CHANGELIST_QUERIES = 8
# session, user, tenant, permissions (2), contacts, performers, action catalog, memberships, partners,
# and one user per membership row (Django's autocomplete widget looks the selected user up per row)
CHANGE_PAGE_QUERIES = 11


def change_url(tenant: Tenant) -> str:
    return reverse("admin:tenants_tenant_change", args=[tenant.pk])


# Building POST data from the rendered page, as a browser would submit it unchanged.
def _form_data(form: forms.BaseForm) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for bound in form:
        value = bound.value()
        if isinstance(bound.field.widget, forms.CheckboxInput):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[bound.html_name] = [str(v) for v in value]
        else:
            data[bound.html_name] = "" if value is None else str(value)
    return data


def page_data(response: Any) -> dict[str, Any]:
    """The main form and every inline formset (with its management form) of an admin add/change page."""
    assert response.status_code == 200
    data = _form_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(_form_data(formset.management_form))
        for form in formset.forms:
            data.update(_form_data(form))
    return data


def add_row(data: dict[str, Any], prefix: str, **fields: Any) -> None:
    """Append one more form to an inline formset in the POST data."""
    index = int(data[f"{prefix}-TOTAL_FORMS"])
    data[f"{prefix}-TOTAL_FORMS"] = str(index + 1)
    for name, value in fields.items():
        if value is True:
            data[f"{prefix}-{index}-{name}"] = "on"
        elif isinstance(value, list):
            data[f"{prefix}-{index}-{name}"] = value
        elif value is not False:
            data[f"{prefix}-{index}-{name}"] = str(value)


def row_index(data: dict[str, Any], prefix: str, pk: int) -> int:
    total = int(data[f"{prefix}-TOTAL_FORMS"])
    return next(i for i in range(total) if data.get(f"{prefix}-{i}-id") == str(pk))


def inline_formset(response: Any, prefix: str) -> Any:
    return next(i.formset for i in response.context["inline_admin_formsets"] if i.formset.prefix == prefix)


def page_errors(response: Any) -> str:
    """Every error the page shows, as one string."""
    parts = [str(response.context["adminform"].form.errors)]
    for inline in response.context["inline_admin_formsets"]:
        parts += [str(inline.formset.non_form_errors()), str(inline.formset.errors)]
    return " ".join(parts)


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def lead_client(client: Client) -> Client:
    login_verified(client, make_user("lead", staff=True, group="MDR Leads"))
    return client


def audit(tenant: Tenant, field: str | None = None) -> list[SettingsChange]:
    rows = SettingsChange.objects.filter(tenant=tenant).order_by("id")
    return list(rows.filter(field=field) if field else rows)


def contacts(tenant: Tenant) -> list[tuple[str, int, str, bool]]:
    return [
        (c.name, c.call_order, str(c.phone), c.active)
        for c in Contact.objects.filter(tenant=tenant).order_by("call_order")
    ]


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
    add_row(data, "contacts", name="Ada", email="ada@globex.example", active=True)

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


@pytest.mark.parametrize("change", [{"active": None}, {"phone": ""}], ids=["deactivate", "blank the phone"])
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


# Performers under Collaborate


def test_setting_changing_and_deleting_a_performer_inline_is_audited_each_time(lead_client: Client) -> None:
    tenant = make_tenant(partner=make_partner())

    data = page_data(lead_client.get(change_url(tenant)))
    add_row(data, "performers", action_code="disable_user", performer="customer")
    response = lead_client.post(change_url(tenant), data)
    assert response.status_code == 302, page_errors(response)
    assert ActionPerformer.objects.get(tenant=tenant, action_code="disable_user").performer == "customer"

    data = page_data(lead_client.get(change_url(tenant)))
    data["performers-0-performer"] = "partner"
    response = lead_client.post(change_url(tenant), data)
    assert response.status_code == 302, page_errors(response)
    assert ActionPerformer.objects.get(tenant=tenant, action_code="disable_user").performer == "partner"

    data = page_data(lead_client.get(change_url(tenant)))
    data["performers-0-DELETE"] = "on"
    response = lead_client.post(change_url(tenant), data)
    assert response.status_code == 302, page_errors(response)
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

    data = page_data(lead_client.get(change_url(tenant)))
    data["memberships-0-DELETE"] = "on"
    response = lead_client.post(change_url(tenant), data)
    assert response.status_code == 302, page_errors(response)
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


# Query counts


def _count(client: Client, url: str, django_assert_num_queries: Any, expected: int) -> Any:
    client.get(url)  # warm the per-process caches (content types, templates) out of the count
    with django_assert_num_queries(expected):
        response = client.get(url)
    assert response.status_code == 200
    return response


@pytest.mark.parametrize("tenants", [3, 12])
def test_tenant_changelist_query_count_does_not_grow_with_tenants(
    lead_client: Client, django_assert_num_queries: Any, tenants: int
) -> None:
    partner = make_partner()
    for i in range(tenants):
        make_tenant(partner=partner if i % 2 else None, phones=1)

    response = _count(lead_client, CHANGELIST, django_assert_num_queries, CHANGELIST_QUERIES)

    assert len(response.context["cl"].result_list) == tenants


@pytest.mark.parametrize(("phones", "performers"), [(2, 1), (6, 5)])
def test_tenant_change_page_query_count_does_not_grow_with_contacts_or_performers(
    lead_client: Client, django_assert_num_queries: Any, phones: int, performers: int
) -> None:
    codes = ["disable_user", "block_domain", "block_ip", "quarantine_file", "terminate_process"]
    tenant = make_tenant(
        phones=phones, partner=make_partner(), performers=dict.fromkeys(codes[:performers], "customer")
    )
    make_member(tenant, role="approver")

    response = _count(lead_client, change_url(tenant), django_assert_num_queries, CHANGE_PAGE_QUERIES)

    assert len(inline_formset(response, "contacts").forms) == phones + 1
    assert len(inline_formset(response, "performers").forms) == performers


# Who may do what


def test_settings_audit_cannot_be_changed_or_deleted_even_by_a_superuser(client: Client) -> None:
    tenant = make_tenant()
    row = audit(tenant)[0]
    login_verified(client, make_user("root", staff=True, is_superuser=True))
    change = reverse("admin:tenants_settingschange_change", args=[row.pk])
    delete = reverse("admin:tenants_settingschange_delete", args=[row.pk])

    assert client.get(change).status_code == 200  # shown, read-only
    assert client.post(change, {"field": "rewritten"}).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:tenants_settingschange_add")).status_code == 403
    assert audit(tenant)[0].field == row.field == "created"


def test_analyst_can_view_tenants_but_not_change_them(client: Client) -> None:
    tenant = make_tenant()
    login_verified(client, make_analyst())

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
