"""REST API: a tenant's contacts in call order and its performers per action type."""

from __future__ import annotations

from typing import Any

import pytest

from tenants.models import ActionPerformer, Contact, Role, SettingsChange, Tenant
from tenants.rules import LAST_PHONE_CONTACT
from tests.factories import as_user, first_contact, make_member, make_partner, make_tenant

pytestmark = pytest.mark.django_db


# Pinned, as API clients depend on each: who the contact is and its place in the call order, then when it may
# be phoned and how it is reached.
CONTACT_FIELDS = {"id", "name", "email", "phone", "call_order", "can_authorize", "active"}
CONTACT_FIELDS |= {"windows", "away_periods", "channels", "sms_opted_out_at"}


# Contacts


def test_contacts_are_listed_in_call_order_to_everyone_in_the_tenant() -> None:
    tenant = make_tenant(phones=3)
    body = as_user(make_member(tenant, Role.VIEWER)).get(f"/api/v1/tenants/{tenant.pk}/contacts/").json()
    assert [c["call_order"] for c in body["results"]] == [1, 2, 3]
    assert set(body["results"][0]) == CONTACT_FIELDS
    assert body["results"][0]["phone"] == "+12025550100"


def test_another_tenants_contacts_are_a_404() -> None:
    mine, other = make_tenant(), make_tenant()
    client = as_user(make_member(mine, Role.ADMIN))
    assert client.get(f"/api/v1/tenants/{other.pk}/contacts/").status_code == 404
    response = client.post(f"/api/v1/tenants/{other.pk}/contacts/", {"name": "Spy"}, format="json")
    assert response.status_code == 404
    contact = first_contact(other)
    assert client.get(f"/api/v1/contacts/{contact.pk}/").status_code == 404
    assert (
        client.patch(f"/api/v1/contacts/{contact.pk}/", {"active": False}, format="json").status_code == 404
    )
    contact.refresh_from_db()
    assert contact.active


def test_a_customer_admin_adds_a_contact_last_with_its_phone_in_e164_and_audited() -> None:
    tenant = make_tenant(phones=2)
    admin = make_member(tenant, Role.ADMIN)
    response = as_user(admin).post(
        f"/api/v1/tenants/{tenant.pk}/contacts/",
        {
            "name": "Night shift",
            "email": "night@t.example",
            "phone": "+1 202 555 0199",
            "can_authorize": True,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["phone"], body["call_order"], body["active"]) == ("+12025550199", 3, True)
    assert SettingsChange.objects.filter(
        tenant=tenant, field="contact", subject="Night shift", actor=admin
    ).exists()


def test_a_contact_added_at_a_place_in_the_call_order_shifts_the_others() -> None:
    tenant = make_tenant(phones=2)
    response = as_user(make_member(tenant, Role.ADMIN)).post(
        f"/api/v1/tenants/{tenant.pk}/contacts/",
        {"name": "First now", "email": "first@x.example", "call_order": 1},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["call_order"] == 1
    names = list(Contact.objects.filter(tenant=tenant).order_by("call_order").values_list("name", flat=True))
    assert names[0] == "First now" and len(names) == 3


def test_a_contact_with_a_bad_phone_or_email_is_a_400_and_not_added() -> None:
    tenant = make_tenant(phones=1)
    client = as_user(make_member(tenant, Role.ADMIN))
    response = client.post(
        f"/api/v1/tenants/{tenant.pk}/contacts/", {"name": "Bad", "phone": "555-0100"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"phone"}
    response = client.post(
        f"/api/v1/tenants/{tenant.pk}/contacts/", {"name": "Bad", "email": "not-an-address"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"email"}
    assert Contact.objects.filter(tenant=tenant).count() == 1


@pytest.mark.parametrize("role", [Role.VIEWER, Role.APPROVER])
def test_only_customer_admins_add_and_change_contacts(role: Role) -> None:
    tenant = make_tenant(phones=1)
    client = as_user(make_member(tenant, role))
    assert (
        client.post(f"/api/v1/tenants/{tenant.pk}/contacts/", {"name": "X"}, format="json").status_code == 403
    )
    contact = first_contact(tenant)
    assert client.patch(f"/api/v1/contacts/{contact.pk}/", {"name": "Y"}, format="json").status_code == 403
    assert client.get(f"/api/v1/contacts/{contact.pk}/").status_code == 200


def test_a_customer_admin_changes_and_moves_a_contact() -> None:
    tenant = make_tenant(phones=3)
    last = tenant.contacts.order_by("call_order").last()
    response = as_user(make_member(tenant, Role.ADMIN)).patch(
        f"/api/v1/contacts/{last.pk}/",
        {"name": "Renamed", "call_order": 1, "can_authorize": False},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["name"], response.json()["call_order"], response.json()["can_authorize"]) == (
        "Renamed",
        1,
        False,
    )
    assert list(tenant.contacts.order_by("call_order").values_list("call_order", flat=True)) == [1, 2, 3]


@pytest.mark.parametrize(
    "change", [{"active": False}, {"channels": ["sms", "email"]}], ids=["deactivate", "stop taking calls"]
)
def test_removing_the_last_phone_while_the_fallback_is_on_is_a_400_and_nothing_changes(change) -> None:
    tenant = make_tenant(phones=1, fallback=True)
    contact = first_contact(tenant)
    response = as_user(make_member(tenant, Role.ADMIN)).patch(
        f"/api/v1/contacts/{contact.pk}/", {**change, "name": "Gone"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [LAST_PHONE_CONTACT]}
    contact.refresh_from_db()
    assert contact.active and contact.name != "Gone"


def test_a_contact_patch_with_a_bad_call_order_is_a_400() -> None:
    tenant = make_tenant(phones=1)
    response = as_user(make_member(tenant, Role.ADMIN)).patch(
        f"/api/v1/contacts/{first_contact(tenant).pk}/", {"call_order": 0}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"call_order"}


# Performers


def test_performers_list_every_action_type_with_mdr_as_the_default() -> None:
    tenant = make_tenant(performers={"disable_user": "customer"})
    rows = as_user(make_member(tenant)).get(f"/api/v1/tenants/{tenant.pk}/performers/").json()
    by_code = {row["action_type"]: row["performer"] for row in rows}
    assert by_code["disable_user"] == "customer"
    assert by_code["isolate_endpoint"] == "mdr"
    assert all(set(row) == {"action_type", "performer"} for row in rows)


def test_a_customer_admin_sets_performers_audited() -> None:
    tenant = make_tenant(partner=make_partner())
    admin = make_member(tenant, Role.ADMIN)
    response = as_user(admin).patch(
        f"/api/v1/tenants/{tenant.pk}/performers/",
        [
            {"action_type": "block_domain", "performer": "partner"},
            {"action_type": "disable_user", "performer": "customer"},
        ],
        format="json",
    )
    assert response.status_code == 200, response.json()
    by_code = {row["action_type"]: row["performer"] for row in response.json()}
    assert (by_code["block_domain"], by_code["disable_user"]) == ("partner", "customer")
    assert SettingsChange.objects.filter(tenant=tenant, field="performer", actor=admin).count() == 2


def test_performers_are_set_all_or_nothing_with_errors_per_row(tenant: Tenant, customer_admin: Any) -> None:
    response = as_user(customer_admin).patch(
        f"/api/v1/tenants/{tenant.pk}/performers/",
        [
            {"action_type": "disable_user", "performer": "customer"},
            {"action_type": "block_domain", "performer": "partner"},
        ],
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()) == {"1"}
    assert set(response.json()["1"]) == {"performer"}
    assert not ActionPerformer.objects.filter(tenant=tenant).exists()


def test_performers_with_an_unknown_action_type_or_performer_are_a_400(
    tenant: Tenant, customer_admin: Any
) -> None:
    response = as_user(customer_admin).patch(
        f"/api/v1/tenants/{tenant.pk}/performers/",
        [{"action_type": "launch_missiles", "performer": "robot"}],
        format="json",
    )
    assert response.status_code == 400
    assert set(response.json()["0"]) == {"action_type", "performer"}


def test_viewers_and_outsiders_do_not_set_performers() -> None:
    tenant, other = make_tenant(), make_tenant()
    body = [{"action_type": "disable_user", "performer": "customer"}]
    viewer = as_user(make_member(tenant, Role.VIEWER))
    assert viewer.patch(f"/api/v1/tenants/{tenant.pk}/performers/", body, format="json").status_code == 403
    outsider = as_user(make_member(other, Role.ADMIN))
    assert outsider.get(f"/api/v1/tenants/{tenant.pk}/performers/").status_code == 404
    assert outsider.patch(f"/api/v1/tenants/{tenant.pk}/performers/", body, format="json").status_code == 404
    assert not ActionPerformer.objects.filter(tenant=tenant).exists()
