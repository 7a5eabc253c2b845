"""Protected assets: what a customer lists is acted on only with its written authorization, in Authorize mode
and under the fallback too; the incident's snapshot carries them, and every change is on the history."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from incidents.gate import ActionFacts, Facts, GateOutcome, Policy, decide
from incidents.models import ActionStatus, Basis, Category
from incidents.services import incident_take_fallback
from tenants.models import ResponseMode, Role, Tier
from tenants.protected import Protection
from tenants.protected_models import ProtectedKind, ProtectedTarget
from tenants.protected_services import protected_target_add, protected_target_remove
from tests.factories import (
    make_incident,
    make_member,
    make_partner,
    make_partner_user,
    make_tenant,
    portal_decision,
    propose,
)

PROTECTION = Protection(
    hosts=("dc-*", "pump-gw-01"),
    networks=("10.20.0.0/16",),
    accounts=("corp\\svc-backup",),
    action_types=("disable_user_account",),
)


def _policy(mode: str, fallback: bool = False) -> Policy:
    return Policy(
        tier=Tier.COMPLETE,
        response_mode=ResponseMode(mode),
        authorize_on_no_ack=fallback,
        protected=PROTECTION,
    )


@pytest.mark.parametrize(
    ("code", "target"),
    [
        ("isolate_endpoint", "DC-01"),
        ("isolate_endpoint", "dc-02.corp.example"),
        ("isolate_endpoint", "PUMP-GW-01"),
        ("block_ip", "10.20.3.4"),
        ("block_ip", "10.0.0.0/8"),
        ("disable_user_account", "jdoe"),
        ("terminate_process", "svc-backup@corp.example"),
    ],
)
@pytest.mark.parametrize(("mode", "fallback"), [("authorize", False), ("collaborate", True)])
def test_a_protected_action_awaits_written_authorization_in_authorize_mode_and_under_the_fallback(
    code: str, target: str, mode: str, fallback: bool
) -> None:
    action = ActionFacts(code, Category.CONTAINMENT, target)

    waiting = decide(_policy(mode, fallback), action, Facts(fallback_taken=fallback))
    authorized = decide(_policy(mode, fallback), action, Facts(authorized=True, fallback_taken=fallback))

    assert waiting.outcome is GateOutcome.AWAIT_AUTHORIZATION
    assert "never acts on without" in waiting.reason
    assert ("Authorize mode" if mode == "authorize" else "fallback") in waiting.reason
    assert authorized.basis is Basis.WRITTEN_AUTHORIZATION


@pytest.mark.parametrize("target", ["WS-0142", "dcx-01", "10.21.0.1", "svc-other"])
def test_what_is_not_protected_is_still_performed_at_once_in_authorize_mode(target: str) -> None:
    decision = decide(
        _policy("authorize"), ActionFacts("isolate_endpoint", Category.CONTAINMENT, target), Facts()
    )

    assert decision.basis is Basis.AUTHORIZE_MODE


@pytest.mark.parametrize(
    ("kind", "value", "error"),
    [
        ("host", "dc 01", "host name"),
        ("network", "10.300.0.0/16", "IP address"),
        ("account", "j doe", "spaces"),
    ],
)
@pytest.mark.django_db
def test_a_bad_protected_value_is_refused_with_what_is_wrong(kind: str, value: str, error: str) -> None:
    tenant = make_tenant()

    with pytest.raises(ValidationError) as refused:
        protected_target_add(tenant=tenant, by=None, kind=kind, value=value)

    assert error in str(refused.value.message_dict["value"])
    assert not ProtectedTarget.objects.exists()


@pytest.mark.django_db
def test_an_authorize_mode_incident_waits_for_an_approver_on_a_protected_host_and_acts_on_the_rest() -> None:
    tenant = make_tenant(mode=ResponseMode.AUTHORIZE)
    approver = make_member(tenant, Role.APPROVER)
    protected_target_add(
        tenant=tenant, by=None, kind=ProtectedKind.HOST, value="DC-*", note="domain controllers"
    )
    incident = make_incident(tenant)

    dc = propose(incident, "isolate_endpoint", target="dc-01.corp.example")
    workstation = propose(incident, "isolate_endpoint", target="WS-0142")

    assert incident.policy["protected"]["hosts"] == ["dc-*"]
    dc.refresh_from_db()
    workstation.refresh_from_db()
    assert dc.status == ActionStatus.AWAITING_AUTHORIZATION
    assert "dc-01.corp.example is a protected host (matches dc-*)" in dc.decision_reason
    assert workstation.basis == Basis.AUTHORIZE_MODE
    portal_decision(incident, [dc], approver)
    dc.refresh_from_db()
    assert dc.basis == Basis.WRITTEN_AUTHORIZATION


@pytest.mark.django_db
def test_an_open_incident_keeps_its_snapshot_when_a_target_is_protected_later() -> None:
    tenant = make_tenant(mode=ResponseMode.AUTHORIZE)
    incident = make_incident(tenant)
    protected_target_add(tenant=tenant, by=None, kind=ProtectedKind.HOST, value="dc-*")

    action = propose(incident, "isolate_endpoint", target="dc-01")

    assert action.basis == Basis.AUTHORIZE_MODE


@pytest.mark.django_db
def test_each_change_of_protected_assets_is_on_the_settings_history_with_who_before_and_after() -> None:
    tenant = make_tenant()
    admin = make_member(tenant, Role.ADMIN, username="it-lead")

    target = protected_target_add(tenant=tenant, by=admin, kind="network", value="10.20.1.9/16", note="ICU")
    protected_target_remove(target=target, by=admin)

    added, removed = tenant.settings_changes.filter(field="protected").order_by("id")
    assert (added.actor_label, added.before, added.after) == (
        "it-lead",
        None,
        {"kind": "network", "value": "10.20.0.0/16", "note": "ICU"},
    )
    assert (removed.before, removed.after) == (added.after, None)


@pytest.mark.django_db
def test_a_partners_admin_changes_protected_assets_only_under_the_customers_delegation() -> None:
    partner = make_partner("acme")
    tenant = make_tenant(partner=partner)
    partner_admin = make_partner_user(partner, Role.ADMIN)
    viewer = make_member(tenant, Role.VIEWER)

    for user in (partner_admin, viewer):
        with pytest.raises(PermissionDenied):
            protected_target_add(tenant=tenant, by=user, kind="host", value="dc-*")
    assert not ProtectedTarget.objects.exists()


@pytest.mark.django_db
def test_the_fallback_acts_on_the_workstation_and_leaves_the_protected_host_waiting_for_an_approver() -> None:
    tenant = make_tenant(fallback=True)
    protected_target_add(tenant=tenant, by=None, kind=ProtectedKind.HOST, value="dc-*")
    incident = make_incident(tenant)
    dc = propose(incident, "isolate_endpoint", target="DC-01")
    workstation = propose(incident, "isolate_endpoint", target="WS-0142")

    incident_take_fallback(incident=incident, attempts=[{"contact": "Alice", "status": "no-answer"}])

    dc.refresh_from_db()
    workstation.refresh_from_db()
    assert workstation.basis == Basis.NO_ACK_FALLBACK
    assert dc.status == ActionStatus.AWAITING_AUTHORIZATION
    assert "under the no-acknowledgment fallback too" in dc.decision_reason
