"""Partner defaults for who performs each action type and for protected assets: they reach every customer
that delegated its settings to the partner (and did not set its own), each change on that customer's history
naming the partner; the gate and the policy snapshot read inherited protected targets like the customer's
own; a customer adds its own on top and drops the partner's list only by opting out of it."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from incidents.models import ActionStatus, Basis
from incidents.services import incident_take_fallback
from tenants.models import ResponseMode, Role, Tenant
from tenants.partner_defaults import partner_default_set
from tenants.partner_inherit import tenant_setting_inherit
from tenants.partner_protected import (
    partner_protected_add,
    partner_protected_remove,
    tenant_protected_opt_out,
)
from tenants.performer_services import performer_set
from tenants.protected_models import ProtectedTarget
from tenants.protected_services import protected_target_add, protected_target_remove
from tenants.selectors import performers_of, tenant_policy
from tenants.services import tenant_delegation_set
from tests.factories import make_incident, make_member, make_partner, make_partner_user, make_tenant, propose

pytestmark = pytest.mark.django_db


def _delegating(partner: object, **kwargs: object) -> Tenant:
    tenant = make_tenant(partner=partner, **kwargs)  # type: ignore[arg-type]
    tenant_delegation_set(tenant=tenant, by=None, partner_decides=False, partner_manages_settings=True)
    return tenant


def _hosts(tenant: Tenant) -> list[str]:
    return tenant_policy(tenant)["protected"]["hosts"]


def test_a_default_performer_reaches_inheriting_customers_only_and_names_the_partner_on_the_history() -> None:
    partner = make_partner("acme")
    msp_admin = make_partner_user(partner, Role.ADMIN, username="msp-admin")
    inheriting, overriding = _delegating(partner), _delegating(partner)
    performer_set(
        tenant=overriding,
        by=make_member(overriding, Role.ADMIN),
        action_code="block_ip",
        performer="customer",
    )
    not_delegated = make_tenant(partner=partner)

    reached = partner_default_set(partner=partner, by=msp_admin, field="performer-block_ip", value="partner")

    assert reached == [inheriting]
    assert [performers_of(t).get("block_ip") for t in (inheriting, overriding, not_delegated)] == [
        "partner",
        "customer",
        None,
    ]
    row = inheriting.settings_changes.get(field="performer")
    assert (row.actor_label, row.subject, row.before, row.after) == (
        f"msp-admin (Acme partner, under {inheriting}'s delegation)",
        "block_ip from Acme's defaults",
        "mdr",
        "partner",
    )


def test_a_customer_goes_back_to_the_default_performer_and_later_defaults_reach_it_again() -> None:
    partner = make_partner("acme")
    tenant = _delegating(partner)
    admin = make_member(tenant, Role.ADMIN)
    partner_default_set(partner=partner, by=None, field="performer-block_ip", value="partner")
    performer_set(tenant=tenant, by=admin, action_code="block_ip", performer="mdr")
    partner_default_set(partner=partner, by=None, field="performer-block_ip", value="customer")
    assert "block_ip" not in performers_of(tenant)

    tenant_setting_inherit(tenant=tenant, by=admin, field="performer-block_ip")

    assert performers_of(tenant)["block_ip"] == "customer"
    assert tenant.settings_changes.filter(field="inherits", subject="performer-block_ip").exists()


def test_a_default_performer_or_setting_that_is_not_one_is_refused() -> None:
    partner = make_partner("acme")
    for field, value in (("performer-block_ip", "nobody"), ("performer-no such", "mdr"), ("tier", "x")):
        with pytest.raises(ValidationError):
            partner_default_set(partner=partner, by=None, field=field, value=value)
    with pytest.raises(ValidationError):
        partner_default_set(partner=partner, by=None, field="reminder_minutes", value="often")


def test_a_partner_protected_target_reaches_inheriting_customers_with_a_history_row() -> None:
    partner = make_partner("acme")
    inheriting, not_delegated = _delegating(partner), make_tenant(partner=partner)
    msp_admin = make_partner_user(partner, Role.ADMIN, username="msp-admin")

    partner_protected_add(partner=partner, by=msp_admin, kind="host", value="DC-*", note="domain controllers")

    assert (_hosts(inheriting), _hosts(not_delegated)) == (["dc-*"], [])
    row = inheriting.settings_changes.get(field="protected")
    assert (row.actor_label, row.subject, row.before, row.after) == (
        f"msp-admin (Acme partner, under {inheriting}'s delegation)",
        "Host name or pattern: dc-* (from Acme's defaults)",
        None,
        {"kind": "host", "value": "dc-*", "note": "domain controllers"},
    )


@pytest.mark.parametrize("mode", ["authorize", "fallback"])
def test_the_gate_awaits_written_authorization_for_an_inherited_protected_target(mode: str) -> None:
    partner = make_partner("acme")
    tenant = _delegating(
        partner,
        mode=ResponseMode.AUTHORIZE if mode == "authorize" else ResponseMode.COLLABORATE,
        fallback=mode == "fallback",
    )
    partner_protected_add(partner=partner, by=None, kind="network", value="10.20.0.0/16")
    incident = make_incident(tenant)
    gateway = propose(incident, "block_ip", target="10.20.3.4")
    other = propose(incident, "block_ip", target="192.0.2.7")
    if mode == "fallback":
        incident_take_fallback(incident=incident, attempts=[{"contact": "Alice", "status": "no-answer"}])

    gateway.refresh_from_db()
    other.refresh_from_db()
    assert incident.policy["protected"]["networks"] == ["10.20.0.0/16"]
    assert gateway.status == ActionStatus.AWAITING_AUTHORIZATION
    assert "10.20.3.4 is in a protected address range (10.20.0.0/16)" in gateway.decision_reason
    assert other.basis == (Basis.AUTHORIZE_MODE if mode == "authorize" else Basis.NO_ACK_FALLBACK)


def test_an_open_incident_keeps_its_snapshot_when_the_partner_protects_more() -> None:
    partner = make_partner("acme")
    tenant = _delegating(partner, mode=ResponseMode.AUTHORIZE)
    incident = make_incident(tenant)

    partner_protected_add(partner=partner, by=None, kind="host", value="dc-*")

    assert propose(incident, "isolate_endpoint", target="dc-01").basis == Basis.AUTHORIZE_MODE
    assert _hosts(tenant) == ["dc-*"]


def test_a_customer_adds_its_own_on_top_and_drops_the_partners_only_by_opting_out() -> None:
    partner = make_partner("acme")
    tenant = _delegating(partner)
    admin = make_member(tenant, Role.ADMIN, username="it-lead")
    partner_protected_add(partner=partner, by=None, kind="host", value="dc-*")
    own = protected_target_add(tenant=tenant, by=admin, kind="host", value="pacs-*")
    inherited = ProtectedTarget.objects.get(tenant=tenant, value="dc-*")

    with pytest.raises(ValidationError, match="opt|inheriting"):
        protected_target_remove(target=inherited, by=admin)
    assert _hosts(tenant) == ["dc-*", "pacs-*"]

    tenant_protected_opt_out(tenant=tenant, by=admin)
    partner_protected_add(partner=partner, by=None, kind="host", value="pump-*")

    assert _hosts(tenant) == ["pacs-*"]
    dropped = tenant.settings_changes.filter(field="protected", after__isnull=True).get()
    assert dropped.subject == "Host name or pattern: dc-* (no longer inheriting Acme's defaults)"
    assert tenant.settings_changes.filter(field="inherits", subject="protected_assets").exists()

    tenant_setting_inherit(tenant=tenant, by=admin, field="protected_assets")
    assert _hosts(tenant) == ["dc-*", "pacs-*", "pump-*"]
    assert own.pk in ProtectedTarget.objects.values_list("pk", flat=True)


def test_taking_a_target_off_the_partners_list_reaches_inheriting_customers_but_not_their_own() -> None:
    partner = make_partner("acme")
    inheriting, protects_itself = _delegating(partner), _delegating(partner)
    protected_target_add(tenant=protects_itself, by=None, kind="host", value="dc-*")
    default = partner_protected_add(partner=partner, by=None, kind="host", value="dc-*")

    partner_protected_remove(default=default, by=None)

    assert (_hosts(inheriting), _hosts(protects_itself)) == ([], ["dc-*"])
    assert inheriting.settings_changes.filter(field="protected", after__isnull=True).exists()


def test_only_the_partners_admins_change_its_protected_list_and_a_customer_viewer_cannot_opt_out() -> None:
    partner, other = make_partner("acme"), make_partner("globex")
    tenant = _delegating(partner)
    for user in (make_partner_user(partner, Role.VIEWER), make_partner_user(other, Role.ADMIN)):
        with pytest.raises(PermissionDenied):
            partner_protected_add(partner=partner, by=user, kind="host", value="dc-*")
    with pytest.raises(PermissionDenied):
        tenant_protected_opt_out(tenant=tenant, by=make_member(tenant, Role.VIEWER))
    assert not ProtectedTarget.objects.exists()
