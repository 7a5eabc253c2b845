"""Tenant settings: the fallback checkbox rule, phone validation, call order, performers, and the audit."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tenants.models import Performer, ResponseMode, Role, SettingsChange
from tenants.performer_services import performer_set
from tenants.rules import FALLBACK_NEEDS_PHONE, LAST_PHONE_CONTACT
from tenants.selectors import phone_contacts, role_at, tenant_policy, tenants_for_user
from tenants.services import (
    contact_create,
    contact_update,
    contacts_reorder,
    tenant_create,
    tenant_update_settings,
)
from tests.factories import (
    first_contact,
    make_member,
    make_partner,
    make_partner_user,
    make_tenant,
    make_user,
)

pytestmark = pytest.mark.django_db


def test_ticking_the_fallback_without_a_phone_contact_is_refused() -> None:
    tenant = make_tenant(phones=0)
    contact_create(tenant=tenant, by=None, name="Mail only", email="a@b.example")
    with pytest.raises(ValidationError) as error:
        tenant_update_settings(tenant=tenant, by=None, authorize_on_no_ack=True)
    assert error.value.message_dict == {"authorize_on_no_ack": [FALLBACK_NEEDS_PHONE]}
    tenant.refresh_from_db()
    assert tenant.authorize_on_no_ack is False
    assert not SettingsChange.objects.filter(tenant=tenant, field="authorize_on_no_ack").exists()


def test_an_inactive_contact_with_a_phone_does_not_count() -> None:
    tenant = make_tenant(phones=1)
    contact_update(contact=first_contact(tenant), by=None, active=False)
    with pytest.raises(ValidationError):
        tenant_update_settings(tenant=tenant, by=None, authorize_on_no_ack=True)


def test_ticking_the_fallback_is_audited_with_who_before_and_after() -> None:
    tenant = make_tenant(phones=1)
    admin = make_member(tenant, Role.ADMIN)
    tenant_update_settings(
        tenant=tenant, by=admin, authorize_on_no_ack=True, response_mode=ResponseMode.COLLABORATE
    )
    change = SettingsChange.objects.get(tenant=tenant, field="authorize_on_no_ack")
    assert (change.actor, change.actor_label, change.before, change.after) == (
        admin,
        admin.username,
        False,
        True,
    )
    # An unchanged value leaves no audit row.
    assert not SettingsChange.objects.filter(tenant=tenant, field="response_mode").exists()


def test_removing_the_last_phone_while_the_fallback_is_on_is_refused() -> None:
    tenant = make_tenant(phones=1, fallback=True)
    contact = first_contact(tenant)
    for change in ({"active": False}, {"phone": ""}):
        with pytest.raises(ValidationError) as error:
            contact_update(contact=contact, by=None, **change)
        assert error.value.messages == [LAST_PHONE_CONTACT]
    contact.refresh_from_db()
    assert contact.active and contact.phone


def test_a_contact_with_a_phone_who_takes_no_calls_does_not_count_for_the_fallback() -> None:
    """Nobody would ever be phoned: the checkbox would only ever flag "nobody available"."""
    tenant = make_tenant(phones=1)
    contact_update(contact=first_contact(tenant), by=None, channels=["sms", "email"])
    with pytest.raises(ValidationError) as error:
        tenant_update_settings(tenant=tenant, by=None, authorize_on_no_ack=True)
    assert error.value.message_dict == {"authorize_on_no_ack": [FALLBACK_NEEDS_PHONE]}
    contact_update(contact=first_contact(tenant), by=None, channels=["voice", "email"])
    tenant_update_settings(tenant=tenant, by=None, authorize_on_no_ack=True)
    tenant.refresh_from_db()
    assert tenant.authorize_on_no_ack is True


def test_the_last_contact_who_takes_calls_cannot_stop_taking_them_while_the_fallback_is_on() -> None:
    tenant = make_tenant(phones=2, fallback=True)
    first, second = tenant.contacts.order_by("call_order")
    contact_update(contact=first, by=None, channels=["email"])  # the second still takes calls
    with pytest.raises(ValidationError) as error:
        contact_update(contact=second, by=None, channels=["sms", "email"])
    assert error.value.messages == [LAST_PHONE_CONTACT]
    second.refresh_from_db()
    assert "voice" in second.channels


def test_removing_one_of_two_phones_while_the_fallback_is_on_is_allowed() -> None:
    tenant = make_tenant(phones=2, fallback=True)
    contact_update(contact=first_contact(tenant), by=None, active=False)
    assert phone_contacts(tenant).count() == 1


def test_unticking_then_removing_the_last_phone_is_allowed() -> None:
    tenant = make_tenant(phones=1, fallback=True)
    tenant_update_settings(tenant=tenant, by=None, authorize_on_no_ack=False)
    contact_update(contact=first_contact(tenant), by=None, phone="")
    assert phone_contacts(tenant).count() == 0


@pytest.mark.parametrize("phone", ["12345", "+1 555", "0207 946 0000", "not a number", "+999123456"])
def test_a_phone_number_must_be_valid_international(phone: str) -> None:
    tenant = make_tenant(phones=0)
    with pytest.raises(ValidationError) as error:
        contact_create(tenant=tenant, by=None, name="X", phone=phone)
    assert "phone" in error.value.message_dict
    assert not tenant.contacts.exists()


def test_a_phone_number_is_stored_in_e164() -> None:
    tenant = make_tenant(phones=0)
    contact = contact_create(tenant=tenant, by=None, name="X", phone="+44 20 7946 0958")
    contact.refresh_from_db()
    assert contact.phone.as_e164 == "+442079460958"


def test_an_invalid_email_is_refused() -> None:
    with pytest.raises(ValidationError) as error:
        contact_create(tenant=make_tenant(phones=0), by=None, name="X", email="not-an-email")
    assert "email" in error.value.message_dict


def test_contacts_are_appended_in_call_order_and_can_be_reordered() -> None:
    tenant = make_tenant(phones=3)
    ids = list(tenant.contacts.order_by("call_order").values_list("pk", flat=True))
    assert list(tenant.contacts.order_by("call_order").values_list("call_order", flat=True)) == [1, 2, 3]
    contacts_reorder(tenant=tenant, by=None, ordered_ids=[ids[2], ids[0], ids[1]])
    assert list(tenant.contacts.order_by("call_order").values_list("pk", flat=True)) == [
        ids[2],
        ids[0],
        ids[1],
    ]
    assert SettingsChange.objects.filter(tenant=tenant, field="call_order").count() == 1


def test_a_reorder_must_name_every_contact_once() -> None:
    tenant = make_tenant(phones=3)
    ids = list(tenant.contacts.values_list("pk", flat=True))
    for bad in (ids[:2], [*ids, ids[0]], [ids[0], ids[1], 999999]):
        with pytest.raises(ValidationError):
            contacts_reorder(tenant=tenant, by=None, ordered_ids=bad)


def test_performer_changes_are_audited_and_mdr_is_the_default() -> None:
    tenant = make_tenant(partner=make_partner())
    assert tenant_policy(tenant)["performers"] == {}
    performer_set(tenant=tenant, by=None, action_code="disable_user", performer=Performer.CUSTOMER)
    performer_set(tenant=tenant, by=None, action_code="disable_user", performer=Performer.PARTNER)
    performer_set(tenant=tenant, by=None, action_code="disable_user", performer=Performer.MDR)
    rows = SettingsChange.objects.filter(tenant=tenant, field="performer").order_by("id")
    assert [(r.before, r.after) for r in rows] == [
        ("mdr", "customer"),
        ("customer", "partner"),
        ("partner", "mdr"),
    ]
    assert tenant_policy(tenant)["performers"] == {}


def test_delegating_to_a_partner_needs_a_partner() -> None:
    tenant = make_tenant()
    with pytest.raises(ValidationError):
        performer_set(tenant=tenant, by=None, action_code="block_ip", performer=Performer.PARTNER)


@pytest.mark.parametrize(
    "change",
    [
        {"tier": "platinum"},
        {"response_mode": "yolo"},
        {"timezone": "Mars/Olympus"},
        {"call_attempts_per_contact": 0},
    ],
)
def test_bad_settings_are_refused_with_field_errors(change: dict) -> None:
    tenant = make_tenant()
    with pytest.raises(ValidationError) as error:
        tenant_update_settings(tenant=tenant, by=None, **change)
    assert set(error.value.message_dict) == set(change)


def test_a_new_tenant_starts_without_the_fallback_and_its_creation_is_audited() -> None:
    tenant = tenant_create(name="New", slug="new", by=None)
    assert tenant.authorize_on_no_ack is False
    assert SettingsChange.objects.get(tenant=tenant).field == "created"


def test_customers_see_only_their_tenants_and_partners_see_the_tenants_they_serve() -> None:
    partner = make_partner()
    served, other = make_tenant(partner=partner), make_tenant()
    viewer = make_member(served, Role.VIEWER)
    partner_user = make_partner_user(partner, Role.APPROVER)
    assert list(tenants_for_user(viewer)) == [served]
    assert list(tenants_for_user(partner_user)) == [served]
    assert role_at(partner_user, served) == Role.APPROVER
    assert role_at(viewer, other) is None
    assert role_at(make_user(), served) is None


def test_the_partner_cannot_be_removed_while_it_performs_action_types() -> None:
    tenant = make_tenant(partner=make_partner(), performers={"block_domain": Performer.PARTNER})
    with pytest.raises(ValidationError) as error:
        tenant_update_settings(tenant=tenant, by=None, partner=None)
    assert "partner" in error.value.message_dict
    tenant.refresh_from_db()
    assert tenant.partner_id is not None


def test_a_contact_needs_a_phone_or_an_email() -> None:
    tenant = make_tenant(phones=0)
    with pytest.raises(ValidationError, match="phone number or an email"):
        contact_create(tenant=tenant, by=None, name="Nobody")
    contact = contact_create(tenant=tenant, by=None, name="Mail", email="m@x.example")
    with pytest.raises(ValidationError, match="phone number or an email"):
        contact_update(contact=contact, by=None, email="")
