"""Every deciding operation (tenants.deciding.DECIDING), on every channel the list names, walked with every
kind of credentials: none, a second factor passed long ago, a fresh one, a revoked token, a partner's user
without and with the customer's delegation. Each case says whether the write takes effect.

The list drives the walk: an operation or a channel added to the list without a way to perform it here
fails test_every_deciding_operation_has_a_way_on_each_of_its_channels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from escalation.models import Acknowledgment
from incidents.connector_models import ConnectorConfig
from incidents.models import ActionType, Authorization
from tenants.deciding import ADMIN, API, DECIDING, WEB, Delegation, Operation
from tenants.models import Contact, Membership, Role, Tenant
from tenants.partner_default_models import PartnerDefault, PartnerProtectedTarget
from tenants.protected_models import ProtectedTarget
from tenants.selectors import performers_of
from tenants.services import tenant_delegation_set
from tests.admin_pages import add_row, page_data, row_index
from tests.credentials import api_client_for, revoked_api_client_for
from tests.factories import (
    first_contact,
    make_incident,
    make_lead,
    make_member,
    make_partner,
    make_partner_user,
    make_tenant,
    make_user,
    propose,
)
from tests.web_sessions import session_client_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

FRESH = timedelta(minutes=1)
STALE = timedelta(hours=13)  # past SECOND_FACTOR_STEP_UP_HOURS (12)

NONE, STALE_2FA, FRESH_2FA, REVOKED = "no second factor", "stale", "fresh", "revoked token"
PARTNER, PARTNER_DELEGATED = "partner without delegation", "partner with delegation"
CONDITIONS = {
    WEB: (NONE, STALE_2FA, FRESH_2FA, PARTNER, PARTNER_DELEGATED),
    API: (NONE, STALE_2FA, FRESH_2FA, REVOKED, PARTNER, PARTNER_DELEGATED),
    ADMIN: (NONE, STALE_2FA, FRESH_2FA, PARTNER, PARTNER_DELEGATED),
}


@dataclass
class World:
    """A customer served by a partner, with an incident whose action awaits written authorization; the
    customer's approver and admin, an MDR lead, and an admin of the partner."""

    tenant: Tenant
    incident: Any
    action: Any
    contact: Contact
    users: dict[str, Any]

    def fresh(self) -> Tenant:
        return Tenant.objects.get(pk=self.tenant.pk)


@dataclass(frozen=True)
class Way:
    """How one operation is performed on one channel, by whom when it is not a partner's user."""

    by: str  # "approver", "admin" or "lead"
    send: Callable[[Any, World], Any]


Send = Callable[[Any, World], Any]


# What each operation changes: the walk compares it before and after the request.
STATE: dict[str, Callable[[World], Any]] = {
    "authorize": lambda w: list(Authorization.objects.values_list("decision", flat=True)),
    "decline": lambda w: list(Authorization.objects.values_list("decision", flat=True)),
    "acknowledge": lambda w: Acknowledgment.objects.count(),
    "authorization_record": lambda w: list(Authorization.objects.values_list("decision", flat=True)),
    "response_policy": lambda w: w.fresh().response_mode,
    "partner_delegation": lambda w: (w.fresh().partner_decides, w.fresh().partner_manages_settings),
    "performers": lambda w: performers_of(w.tenant),
    "protected_assets": lambda w: sorted(
        ProtectedTarget.objects.filter(tenant=w.tenant).values_list("value")
    ),
    "contact_add": lambda w: Contact.objects.filter(tenant=w.tenant).count(),
    "contact_change": lambda w: Contact.objects.get(pk=w.contact.pk).can_authorize,
    "partner_defaults": lambda w: (
        sorted(PartnerDefault.objects.values_list("field", "value")),
        sorted(PartnerProtectedTarget.objects.values_list("value", flat=True)),
    ),
    "memberships": lambda w: Membership.objects.filter(tenant=w.tenant).count(),
    "connector": lambda w: ConnectorConfig.objects.filter(tenant=w.tenant).exists(),
}


# The web pages ------------------------------------------------------------------------------------


def web_decide(decision: str) -> Send:
    def send(client: Client, w: World) -> Any:
        data = {"actions": [w.action.pk], "decision": decision, "statement": "Go ahead."}
        return client.post(reverse("incidents:decide", args=[w.incident.pk]), data)

    return send


def web_settings(client: Client, w: World) -> Any:
    t = w.fresh()
    data = {
        "response_mode": "authorize",
        "call_attempts_per_contact": t.call_attempts_per_contact,
        "ring_timeout_seconds": t.ring_timeout_seconds,
        "timezone": t.timezone,
        "reminder_minutes": t.reminder_minutes,
        "reminder_count": t.reminder_count,
    }
    return client.post(reverse("tenants:settings"), data)


def delegation_toggled(w: World) -> dict[str, bool]:
    t = w.fresh()
    return {"partner_decides": not t.partner_decides, "partner_manages_settings": t.partner_manages_settings}


def web_delegation(client: Client, w: World) -> Any:
    data = {name: "on" for name, value in delegation_toggled(w).items() if value}
    return client.post(reverse("tenants:delegation"), data)


def web_performers(client: Client, w: World) -> Any:
    data = {f"performer_{code}": "mdr" for code in ActionType.objects.values_list("code", flat=True)}
    data["performer_isolate_endpoint"] = "customer"
    return client.post(reverse("tenants:performers"), data)


PROTECT_DC = {"kind": "host", "value": "dc-*", "note": "domain controllers"}


def web_protect(client: Client, w: World) -> Any:
    return client.post(reverse("tenants:protected_add"), PROTECT_DC)


NEW_CONTACT = {"name": "Night shift", "email": "night@outside.example", "phone": "+12025550177"}


def web_contact_add(client: Client, w: World) -> Any:
    data = {**NEW_CONTACT, "can_authorize": "on", "channels": ["voice", "email"]}
    return client.post(reverse("tenants:contact_add"), data)


def web_contact_change(client: Client, w: World) -> Any:
    c = w.contact  # can_authorize left out: unticked
    data = {"name": c.name, "email": c.email, "phone": str(c.phone), "channels": list(c.channels)}
    return client.post(reverse("tenants:contact_edit", args=[c.pk]), data)


def web_partner_default(client: Client, w: World) -> Any:
    data = {"performer-isolate_endpoint": "partner"}
    return client.post(reverse("partner_defaults", args=["acme"]), data)


# The API --------------------------------------------------------------------------------------------


def api_decide(verb: str) -> Send:
    return lambda c, w: c.post(f"/api/v1/actions/{w.action.pk}/{verb}/", {"statement": "Go."}, format="json")


def api_delegation(client: Any, w: World) -> Any:
    data = {**delegation_toggled(w), "reason": "Asked in writing."}
    return client.put(f"/api/v1/tenants/{w.tenant.pk}/delegation/", data, format="json")


def api_login(client: Any, w: World) -> Any:
    data = {
        "username": "new-admin",
        "email": "x@outside.example",
        "password": "Gr8-passphrase!",
        "role": "admin",
    }
    return client.post(f"/api/v1/tenants/{w.tenant.pk}/users/", data, format="json")


# The admin ----------------------------------------------------------------------------------------


def admin_tenant_page(change: Callable[[dict[str, Any], World], None]) -> Send:
    """The tenant's change page as a lead sees it, changed, submitted by the client under test."""

    def send(client: Client, w: World) -> Any:
        url = reverse("admin:tenants_tenant_change", args=[w.tenant.pk])
        data = page_data(session_client_for(w.users["lead"], second_factor_age=FRESH).get(url))
        change(data, w)
        return client.post(url, data)

    return send


def set_authorize_mode(data: dict[str, Any], w: World) -> None:
    data["response_mode"] = "authorize"


def toggle_delegation(data: dict[str, Any], w: World) -> None:
    if data.pop("partner_decides", None) is None:
        data["partner_decides"] = "on"
    data["delegation_reason"] = "The customer asked by phone; ticket 4711."


def add_performer(data: dict[str, Any], w: World) -> None:
    add_row(data, "performers", action_code="isolate_endpoint", performer="customer")


def add_contact(data: dict[str, Any], w: World) -> None:
    extra = int(data["contacts-INITIAL_FORMS"])  # the empty row the page offers
    for name, value in {**NEW_CONTACT, "channels": ["voice"], "can_authorize": "on", "active": "on"}.items():
        data[f"contacts-{extra}-{name}"] = value


def untick_can_authorize(data: dict[str, Any], w: World) -> None:
    data.pop(f"contacts-{row_index(data, 'contacts', w.contact.pk)}-can_authorize")


def add_protected(data: dict[str, Any], w: World) -> None:
    add_row(data, "protected_targets", **PROTECT_DC)


def add_membership(data: dict[str, Any], w: World) -> None:
    add_row(data, "memberships", user=make_user("joiner").pk, role="admin")


def admin_record(client: Client, w: World) -> Any:
    data = {
        "actions": [w.action.pk],
        "contact": w.contact.pk,
        "decision": "granted",
        "evidence": "From: ciso@customer.example - Please isolate WS-0142.",
    }
    return client.post(reverse("admin:incidents_incident_authorize", args=[w.incident.pk]), data)


def admin_partner_default(client: Client, w: World) -> Any:
    data = {"partner": str(w.tenant.partner_id), "field": "reminder_minutes", "value": "30"}
    return client.post(reverse("admin:tenants_partnerdefault_add"), data)


def admin_connector(client: Client, w: World) -> Any:
    data = {"tenant": str(w.tenant.pk), "kind": "simulated", "options": "{}"}
    return client.post(reverse("admin:incidents_connectorconfig_add"), data)


WAYS: dict[tuple[str, str], Way] = {
    ("authorize", WEB): Way("approver", web_decide("granted")),
    ("authorize", API): Way("approver", api_decide("authorize")),
    ("decline", WEB): Way("approver", web_decide("declined")),
    ("decline", API): Way("approver", api_decide("decline")),
    ("acknowledge", WEB): Way(
        "approver", lambda c, w: c.post(reverse("incidents:acknowledge", args=[w.incident.pk]))
    ),
    ("acknowledge", API): Way(
        "approver", lambda c, w: c.post(f"/api/v1/incidents/{w.incident.pk}/acknowledge/", format="json")
    ),
    ("authorization_record", ADMIN): Way("lead", admin_record),
    ("response_policy", WEB): Way("admin", web_settings),
    ("response_policy", API): Way(
        "admin",
        lambda c, w: c.patch(
            f"/api/v1/tenants/{w.tenant.pk}/", {"response_mode": "authorize"}, format="json"
        ),
    ),
    ("response_policy", ADMIN): Way("lead", admin_tenant_page(set_authorize_mode)),
    ("partner_delegation", WEB): Way("admin", web_delegation),
    ("partner_delegation", API): Way("admin", api_delegation),
    ("partner_delegation", ADMIN): Way("lead", admin_tenant_page(toggle_delegation)),
    ("performers", WEB): Way("admin", web_performers),
    ("performers", API): Way(
        "admin",
        lambda c, w: c.patch(
            f"/api/v1/tenants/{w.tenant.pk}/performers/",
            [{"action_type": "isolate_endpoint", "performer": "customer"}],
            format="json",
        ),
    ),
    ("performers", ADMIN): Way("lead", admin_tenant_page(add_performer)),
    ("protected_assets", WEB): Way("admin", web_protect),
    ("protected_assets", API): Way(
        "admin", lambda c, w: c.post(f"/api/v1/tenants/{w.tenant.pk}/protected/", PROTECT_DC, format="json")
    ),
    ("protected_assets", ADMIN): Way("lead", admin_tenant_page(add_protected)),
    ("contact_add", WEB): Way("admin", web_contact_add),
    ("contact_add", API): Way(
        "admin",
        lambda c, w: c.post(
            f"/api/v1/tenants/{w.tenant.pk}/contacts/",
            {**NEW_CONTACT, "can_authorize": True, "channels": ["voice", "email"]},
            format="json",
        ),
    ),
    ("contact_add", ADMIN): Way("lead", admin_tenant_page(add_contact)),
    ("contact_change", WEB): Way("admin", web_contact_change),
    ("contact_change", API): Way(
        "admin",
        lambda c, w: c.patch(f"/api/v1/contacts/{w.contact.pk}/", {"can_authorize": False}, format="json"),
    ),
    ("contact_change", ADMIN): Way("lead", admin_tenant_page(untick_can_authorize)),
    # Set at the partner by its admin (MDR staff with the partner permission here): it reaches only the
    # customers that delegated their settings to the partner.
    ("partner_defaults", WEB): Way("lead", web_partner_default),
    ("partner_defaults", API): Way(
        "lead",
        lambda c, w: c.patch(
            "/api/v1/partners/acme/defaults/", {"performers": {"isolate_endpoint": "partner"}}, format="json"
        ),
    ),
    ("partner_defaults", ADMIN): Way("lead", admin_partner_default),
    ("memberships", API): Way("lead", api_login),
    ("memberships", ADMIN): Way("lead", admin_tenant_page(add_membership)),
    ("connector", API): Way(
        "lead",
        lambda c, w: c.put(f"/api/v1/tenants/{w.tenant.pk}/connector/", {"kind": "simulated"}, format="json"),
    ),
    ("connector", ADMIN): Way("lead", admin_connector),
}


def test_every_deciding_operation_has_a_way_on_each_of_its_channels() -> None:
    listed = {(code, channel) for code, op in DECIDING.items() for channel in op.channels}
    assert sorted(listed - set(WAYS)) == [], "deciding operations the walk does not perform"
    assert sorted(set(WAYS) - listed) == [], "ways for operations or channels the list does not name"
    assert set(STATE) == set(DECIDING)


def expected(operation: Operation, channel: str, condition: str) -> bool:
    """Whether the write takes effect."""
    if condition == FRESH_2FA:
        return True
    if operation.partner_level and condition in (PARTNER, PARTNER_DELEGATED):
        # The partner's own admin sets the partner's defaults on its pages, never in MDR staff's admin.
        return channel != ADMIN
    if condition == PARTNER_DELEGATED:
        # The admin is MDR staff's; a partner's user never changes the delegation itself.
        return channel != ADMIN and operation.delegation is not None
    return False


@pytest.fixture
def world() -> World:
    partner = make_partner("acme")
    tenant = make_tenant(phones=2, partner=partner)
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    users = {
        "approver": make_member(tenant, Role.APPROVER),
        "admin": make_member(tenant, Role.ADMIN),
        "lead": make_lead(),
        # An admin at the partner: the highest role a partner's user has.
        "partner": make_partner_user(partner, Role.ADMIN),
    }
    return World(tenant=tenant, incident=incident, action=action, contact=first_contact(tenant), users=users)


def client_for(channel: str, condition: str, user: Any) -> Any:
    if condition == REVOKED:
        return revoked_api_client_for(user)
    age = {NONE: None, STALE_2FA: STALE}.get(condition, FRESH)
    if channel == API:
        return api_client_for(user, second_factor_age=age)
    return session_client_for(user, second_factor_age=age)


CASES = [
    pytest.param(code, channel, condition, id=f"{code} on {channel}: {condition}")
    for (code, channel) in WAYS
    for condition in CONDITIONS[channel]
]


@pytest.mark.parametrize(("code", "channel", "condition"), CASES)
def test_a_deciding_operation_takes_effect_only_with_a_fresh_second_factor_and_the_right_to_decide(
    world: World, code: str, channel: str, condition: str
) -> None:
    operation, way = DECIDING[code], WAYS[(code, channel)]
    if condition == PARTNER_DELEGATED:
        tenant_delegation_set(
            tenant=world.tenant, by=None, partner_decides=True, partner_manages_settings=True
        )
    partner = condition in (PARTNER, PARTNER_DELEGATED)
    client = client_for(channel, condition, world.users["partner" if partner else way.by])
    before = STATE[code](world)

    response = way.send(client, world)

    assert response.status_code < 500
    took_effect = STATE[code](world) != before
    assert took_effect is expected(operation, channel, condition), (
        response.status_code,
        response.get("Location"),
        getattr(response, "content", b"")[:400],
    )
    if not took_effect:
        assert response.status_code in (302, 401, 403), response.status_code
    if took_effect and partner and not operation.partner_level:
        # Made under the customer's delegation: the settings history or the timeline names the partner.
        named = world.tenant.settings_changes.filter(actor_label__contains="(Acme partner").exists()
        named |= world.incident.events.filter(summary__contains="Acme (partner)").exists()
        assert named and operation.delegation in (Delegation.DECISIONS, Delegation.SETTINGS)


def test_a_write_that_changes_no_deciding_field_needs_no_fresh_second_factor(world: World) -> None:
    """The ring time and a contact's name are the customer's admins' to change, without a step-up."""
    admin = world.users["admin"]
    page = session_client_for(admin, second_factor_age=STALE)
    t, c = world.fresh(), world.contact
    settings_data = {
        "response_mode": t.response_mode,
        "call_attempts_per_contact": t.call_attempts_per_contact,
        "ring_timeout_seconds": 45,
        "timezone": t.timezone,
        "reminder_minutes": t.reminder_minutes,
        "reminder_count": t.reminder_count,
    }
    contact_data = {
        "name": "Renamed",
        "email": c.email,
        "phone": str(c.phone),
        "can_authorize": "on",
        "channels": list(c.channels),
    }

    assert page.post(reverse("tenants:settings"), settings_data)["Location"] == reverse("tenants:settings")
    assert page.post(reverse("tenants:contact_edit", args=[c.pk]), contact_data).status_code == 302
    api = api_client_for(admin, second_factor_age=None)
    renamed = api.patch(f"/api/v1/contacts/{c.pk}/", {"name": "Renamed again"}, format="json")

    assert renamed.status_code == 200
    assert world.fresh().ring_timeout_seconds == 45
    assert Contact.objects.get(pk=c.pk).name == "Renamed again"
    refused = api.patch(f"/api/v1/contacts/{c.pk}/", {"email": "x@outside.example"}, format="json")
    assert refused.status_code == 403


def test_creating_a_tenant_in_authorize_mode_through_the_api_needs_a_second_factor(world: World) -> None:
    data = {"name": "Globex", "slug": "globex", "tier": "complete", "response_mode": "authorize"}
    plain = api_client_for(world.users["lead"], second_factor_age=None)

    assert plain.post("/api/v1/tenants/", data, format="json").status_code == 403
    assert not Tenant.objects.filter(slug="globex").exists()
    verified = api_client_for(world.users["lead"], second_factor_age=FRESH)
    assert verified.post("/api/v1/tenants/", data, format="json").status_code == 201
