"""The settings page: admins change the policy and the performers, every change is audited and shown; the
fallback checkbox is refused without a phone; the explanation says what the gate would do at 3 a.m."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from incidents.policy import PolicySnapshot
from tenants.models import ActionPerformer, Performer, ResponseMode, Role, SettingsChange, Tenant, Tier
from tenants.rules import FALLBACK_NEEDS_PHONE
from tenants.services import contact_create, contact_update
from tests.factories import client_for, make_incident, make_partner, make_tenant

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]
URL = reverse("tenants:settings")


def form_data(tenant: Tenant, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "response_mode": tenant.response_mode,
        "call_attempts_per_contact": tenant.call_attempts_per_contact,
        "ring_timeout_seconds": tenant.ring_timeout_seconds,
        "timezone": tenant.timezone,
        "reminder_minutes": tenant.reminder_minutes,
        "reminder_count": tenant.reminder_count,
    }
    if tenant.authorize_on_no_ack:
        data["authorize_on_no_ack"] = "on"
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def explanation(response: Any, scenario: str) -> Any:
    return next(e for e in response.context["explanations"] if e.scenario == scenario)


def listed(explained: Any, heading_start: str) -> tuple[str, ...]:
    found = [c.names for c in explained.consequences if c.heading.startswith(heading_start)]
    return found[0] if found else ()


def test_admin_ticks_the_fallback_and_finds_it_kept_and_in_the_history() -> None:
    tenant = make_tenant(phones=2)
    client, admin = client_for(tenant, Role.ADMIN)

    response = client.post(URL, form_data(tenant, authorize_on_no_ack="on"))

    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.authorize_on_no_ack is True
    change = SettingsChange.objects.filter(tenant=tenant, field="authorize_on_no_ack").get()
    assert (change.actor, change.before, change.after) == (admin, False, True)
    page = client.get(URL)
    assert page.context["form"]["authorize_on_no_ack"].value() is True
    history = page.context["history"]
    assert history[0]["what"] == "No-acknowledgment fallback"
    assert (history[0]["before"], history[0]["after"]) == ("off", "on")
    assert admin.username in page.content.decode()


def test_the_fallback_is_refused_with_a_clear_message_while_no_contact_has_a_phone() -> None:
    tenant = make_tenant(phones=0)
    contact_create(tenant=tenant, by=None, name="Email only", email="only@t.example")
    client, _ = client_for(tenant, Role.ADMIN)

    page = client.get(URL)
    assert "can only be ticked while at least one active contact has a phone number" in page.content.decode()

    response = client.post(URL, form_data(tenant, authorize_on_no_ack="on"))

    assert response.status_code == 400
    assert response.context["form"].errors["authorize_on_no_ack"] == [FALLBACK_NEEDS_PHONE]
    assert FALLBACK_NEEDS_PHONE in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.authorize_on_no_ack is False


def test_the_rule_refuses_the_fallback_even_when_the_checkbox_was_enabled_in_the_page() -> None:
    tenant = make_tenant(phones=1)
    client, _ = client_for(tenant, Role.ADMIN)
    page = client.get(URL)  # rendered enabled: one contact has a phone
    assert not page.context["form"].fields["authorize_on_no_ack"].disabled
    contact = tenant.contacts.get()
    contact.phone = ""  # meanwhile, another admin removed the last phone number
    contact.save()

    response = client.post(URL, form_data(tenant, authorize_on_no_ack="on"))

    assert response.status_code == 400
    assert response.context["form"].errors["authorize_on_no_ack"] == [FALLBACK_NEEDS_PHONE]
    tenant.refresh_from_db()
    assert tenant.authorize_on_no_ack is False
    assert not SettingsChange.objects.filter(tenant=tenant, field="authorize_on_no_ack").exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.APPROVER])
def test_other_roles_read_the_settings_and_cannot_change_them(role: str) -> None:
    tenant = make_tenant(phones=2)
    client, _ = client_for(tenant, role)

    page = client.get(URL)

    assert page.status_code == 200
    assert all(field.disabled for field in page.context["form"].fields.values())
    assert all(field.disabled for field in page.context["performers_form"].fields.values())
    assert b"Save settings" not in page.content
    assert b"only" in page.content and b"admins change them" in page.content
    response = client.post(URL, form_data(tenant, response_mode=ResponseMode.AUTHORIZE))
    assert response.status_code == 403
    tenant.refresh_from_db()
    assert tenant.response_mode == ResponseMode.COLLABORATE


def test_changing_the_mode_and_the_call_pace_is_audited_field_by_field() -> None:
    tenant = make_tenant(phones=2)
    client, admin = client_for(tenant, Role.ADMIN)

    response = client.post(
        URL,
        form_data(
            tenant, response_mode=ResponseMode.AUTHORIZE, call_attempts_per_contact=2, timezone="Europe/Paris"
        ),
    )

    assert response.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.response_mode, tenant.call_attempts_per_contact, tenant.timezone) == (
        ResponseMode.AUTHORIZE,
        2,
        "Europe/Paris",
    )
    fields = set(SettingsChange.objects.filter(tenant=tenant, actor=admin).values_list("field", flat=True))
    assert fields == {"response_mode", "call_attempts_per_contact", "timezone"}


def test_an_unknown_time_zone_is_refused_on_its_field() -> None:
    tenant = make_tenant(phones=2)
    client, _ = client_for(tenant, Role.ADMIN)

    response = client.post(URL, form_data(tenant, timezone="Mars/Olympus"))

    assert response.status_code == 400
    assert "timezone" in response.context["form"].errors


def test_a_contact_who_takes_no_calls_is_neither_counted_nor_named_among_those_phoned() -> None:
    tenant = make_tenant(phones=3)
    first, second, texts_only = tenant.contacts.order_by("call_order")
    contact_update(contact=texts_only, by=None, channels=["sms", "email"])
    client, _ = client_for(tenant, Role.VIEWER)

    page = client.get(URL)

    headline = explanation(page, "collaborate").headline
    assert f"phoned {first.name} and {second.name}, the contacts available then" in headline
    assert texts_only.name not in headline
    assert "2 active contacts with a phone number who take phone calls" in page.content.decode()


def test_the_explanation_follows_the_tier_the_performers_and_the_gate() -> None:
    tenant = make_tenant(tier=Tier.ESSENTIALS, phones=3, performers={"disable_user": Performer.CUSTOMER})
    client, _ = client_for(tenant, Role.VIEWER)

    page = client.get(URL)

    without = explanation(page, "collaborate")
    assert "only keep calling" in without.headline
    assert "each of your 3 contacts with a phone number (1 call each)" in without.headline
    assert listed(without, "MDR Ops performs") == ()
    assert "Isolate endpoint" in listed(without, "Waits for the written authorization")
    assert listed(without, "Recommended to your own team") == ("Disable user account",)
    assert "Remove persistence" in listed(without, "Customer action required")

    fallback = explanation(page, "collaborate-fallback")
    assert "act as in Authorize mode" in fallback.headline
    assert "Isolate endpoint" in listed(fallback, "MDR Ops performs")
    # Under the fallback the gate acts as in Authorize mode: performers do not hold MDR Ops back.
    assert "Disable user account" in listed(fallback, "MDR Ops performs")
    assert "Remove persistence" in listed(fallback, "Customer action required (MDR Essentials")
    # Only what a proposal can be: reverts (release, unblock...) are not listed.
    names = [n for c in fallback.consequences for n in c.names]
    assert "Release endpoint from isolation" not in names

    complete = make_tenant(tier=Tier.COMPLETE, phones=1)
    client, _ = client_for(complete, Role.VIEWER)
    fallback = explanation(client.get(URL), "collaborate-fallback")
    assert "Remove persistence" in listed(fallback, "MDR Ops performs")
    assert listed(fallback, "Customer action required") == ()


def test_the_page_shows_the_explanation_of_the_saved_choice_and_carries_the_others_hidden() -> None:
    tenant = make_tenant(phones=2, fallback=True)
    client, _ = client_for(tenant, Role.ADMIN)

    html = client.get(URL).content.decode()

    assert 'data-scenario="collaborate-fallback">' in html
    assert 'data-scenario="collaborate" hidden>' in html
    assert 'data-scenario="authorize" hidden>' in html
    assert "mdrportal/settings.js" in html


def test_performers_are_set_through_the_service_and_audited() -> None:
    partner = make_partner()
    tenant = make_tenant(phones=2, partner=partner)
    client, admin = client_for(tenant, Role.ADMIN)
    page = client.get(URL)
    data = {f.html_name: f.value() for _, f in page.context["performers_form"].rows()}
    data["performer_disable_user"] = Performer.CUSTOMER
    data["performer_block_domain"] = Performer.PARTNER

    response = client.post(reverse("tenants:performers"), data)

    assert response.status_code == 302
    assert dict(ActionPerformer.objects.filter(tenant=tenant).values_list("action_code", "performer")) == {
        "disable_user": "customer",
        "block_domain": "partner",
    }
    assert SettingsChange.objects.filter(tenant=tenant, field="performer", actor=admin).count() == 2
    rows = {row["what"]: (row["before"], row["after"]) for row in client.get(URL).context["history"]}
    assert rows["Performer: Disable user account"] == ("mdr", "customer")


def test_a_tenant_without_a_partner_cannot_delegate_to_one() -> None:
    tenant = make_tenant(phones=2)
    client, _ = client_for(tenant, Role.ADMIN)
    page = client.get(URL)
    assert Performer.PARTNER not in dict(
        page.context["performers_form"].fields["performer_block_domain"].choices
    )
    data = {f.html_name: f.value() for _, f in page.context["performers_form"].rows()}
    data["performer_block_domain"] = Performer.PARTNER

    response = client.post(reverse("tenants:performers"), data)

    assert response.status_code == 400
    assert not ActionPerformer.objects.filter(tenant=tenant).exists()


def test_the_reminder_settings_are_changed_audited_and_shown_in_the_history() -> None:
    tenant = make_tenant(phones=2)
    client, admin = client_for(tenant, Role.ADMIN)

    response = client.post(URL, form_data(tenant, reminder_minutes=30, reminder_count=2))

    assert response.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.reminder_minutes, tenant.reminder_count) == (30, 2)
    fields = set(SettingsChange.objects.filter(tenant=tenant, actor=admin).values_list("field", flat=True))
    assert fields == {"reminder_minutes", "reminder_count"}
    page = client.get(URL).content.decode()
    assert "Minutes between reminders" in page and "Reminders before flagging" in page


@pytest.mark.parametrize(
    ("field", "value"),
    [("reminder_minutes", 0), ("reminder_minutes", 1441), ("reminder_count", 0), ("reminder_count", 21)],
)
def test_reminder_settings_out_of_range_are_refused_on_their_field(field: str, value: int) -> None:
    tenant = make_tenant(phones=2)
    client, _ = client_for(tenant, Role.ADMIN)

    response = client.post(URL, form_data(tenant, **{field: value}))

    assert response.status_code == 400
    assert field in response.context["form"].errors
    tenant.refresh_from_db()
    assert (tenant.reminder_minutes, tenant.reminder_count) == (15, 4)


def test_the_reminders_text_says_what_a_change_does_to_an_incident_already_open() -> None:
    """The page promised that reminder changes reach open incidents; they follow the incident's snapshot."""
    tenant = make_tenant(phones=1)
    incident = make_incident(tenant)
    before = PolicySnapshot.read(incident).reminder_minutes
    client, _ = client_for(tenant, Role.ADMIN)

    assert client.post(URL, form_data(tenant, reminder_minutes=before + 7)).status_code == 302

    incident.refresh_from_db()
    assert PolicySnapshot.read(incident).reminder_minutes == before  # the open incident keeps its own
    text = " ".join(client.get(URL).content.decode().split())
    assert "to incidents already open too" not in text
    assert "an incident already open keeps the reminders it opened with" in text
