"""Opening incidents, proposing actions and recording written authorizations."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from escalation.runs.lifecycle import incident_change_status
from incidents.authorizations import authorization_record
from incidents.models import ActionStatus, Authorization, Basis, Channel, EventKind, Incident
from incidents.selectors import authorization_text
from incidents.services import incident_reapply_policy, incident_take_fallback
from tenants.models import Performer, ResponseMode, Role, Tier
from tenants.services import contact_update, tenant_update_settings
from tests.factories import (
    first_contact,
    kinds,
    make_incident,
    make_member,
    make_partner,
    make_tenant,
    make_user,
    propose,
)

pytestmark = pytest.mark.django_db


def record(incident: Incident, actions: list, *, decision: str = "granted", **who: object) -> Authorization:
    who = who or {
        "contact": first_contact(incident.tenant),
        "recorded_by": make_user(staff=True),
        "evidence": "From: CISO\nYes, isolate WS-0142 now.",
    }
    channel = Channel.ANALYST_RECORDED if "recorded_by" in who else Channel.PORTAL
    return authorization_record(
        incident=incident,
        actions=actions,
        decision=decision,
        channel=channel,
        text_shown=authorization_text(incident, actions),
        **who,
    )


def test_opening_snapshots_the_policy_and_later_changes_do_not_touch_it() -> None:
    tenant = make_tenant(tier=Tier.ESSENTIALS, performers={"disable_user": Performer.CUSTOMER})
    incident = make_incident(tenant)
    assert incident.policy["response_mode"] == ResponseMode.COLLABORATE
    assert incident.policy["performers"] == {"disable_user": "customer"}
    tenant_update_settings(tenant=tenant, by=None, response_mode=ResponseMode.AUTHORIZE)
    incident.refresh_from_db()
    assert incident.policy["response_mode"] == ResponseMode.COLLABORATE
    assert propose(incident, "isolate_endpoint").status == ActionStatus.AWAITING_AUTHORIZATION
    assert kinds(incident)[0] == EventKind.INCIDENT_OPENED


def test_reapplying_the_policy_is_a_timeline_event_and_redecides_waiting_actions(analyst: Any) -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    waiting = propose(incident, "isolate_endpoint")
    tenant_update_settings(tenant=tenant, by=None, response_mode=ResponseMode.AUTHORIZE)
    incident_reapply_policy(incident=incident, by=analyst)
    waiting.refresh_from_db()
    assert (waiting.status, waiting.basis) == (ActionStatus.QUEUED, Basis.AUTHORIZE_MODE)
    event = incident.events.get(kind=EventKind.POLICY_REAPPLIED)
    assert event.data["before"]["response_mode"] == "collaborate"
    assert event.data["after"]["response_mode"] == "authorize"
    assert EventKind.ACTION_QUEUED in kinds(incident)


@pytest.mark.parametrize(
    ("tier", "mode", "code", "status", "performer", "basis"),
    [
        (Tier.COMPLETE, ResponseMode.COLLABORATE, "isolate_endpoint", "awaiting_authorization", "mdr", ""),
        (Tier.COMPLETE, ResponseMode.COLLABORATE, "disable_user", "recommended", "customer", ""),
        (Tier.ESSENTIALS, ResponseMode.COLLABORATE, "clean_malware", "recommended", "customer", ""),
        (Tier.ESSENTIALS, ResponseMode.AUTHORIZE, "isolate_endpoint", "queued", "mdr", "authorize_mode"),
        (Tier.ESSENTIALS, ResponseMode.AUTHORIZE, "clean_malware", "recommended", "customer", ""),
        (Tier.COMPLETE, ResponseMode.AUTHORIZE, "clean_malware", "queued", "mdr", "authorize_mode"),
    ],
)
def test_a_proposed_action_goes_where_the_gate_says(
    tier: str, mode: str, code: str, status: str, performer: str, basis: str
) -> None:
    tenant = make_tenant(tier=tier, mode=mode, performers={"disable_user": Performer.CUSTOMER})
    incident = make_incident(tenant)
    action = propose(incident, code)
    assert (action.status, action.performer, action.basis) == (status, performer, basis)
    assert action.decision_reason
    proposed = incident.events.get(kind=EventKind.ACTION_PROPOSED)
    assert proposed.data["action"] == action.pk and proposed.data["status"] == status
    assert (EventKind.ACTION_QUEUED in kinds(incident)) == (status == "queued")


def test_a_blank_target_is_refused() -> None:
    incident = make_incident(make_tenant())
    with pytest.raises(ValidationError) as error:
        propose(incident, "isolate_endpoint", target="  ")
    assert "target" in error.value.message_dict
    assert not incident.actions.exists()


def test_a_written_authorization_queues_exactly_its_scope() -> None:
    incident = make_incident(make_tenant())
    isolate, block, other = (propose(incident, c) for c in ("isolate_endpoint", "block_sha256", "block_ip"))
    authorization = record(incident, [isolate, block])
    for action in (isolate, block, other):
        action.refresh_from_db()
    assert (isolate.status, isolate.basis, isolate.authorization) == (
        "queued",
        "written_authorization",
        authorization,
    )
    assert (block.status, block.basis) == ("queued", "written_authorization")
    assert other.status == "awaiting_authorization" and other.authorization is None
    assert {s["action"] for s in authorization.scope} == {isolate.pk, block.pk}
    assert "Isolate endpoint on WS-0142" in authorization.text_shown
    assert authorization.channel == Channel.ANALYST_RECORDED and authorization.evidence
    given = incident.events.get(kind=EventKind.AUTHORIZATION_GIVEN)
    assert "recorded by" in given.actor_label and given.data["authorization"] == authorization.pk


def test_a_declined_authorization_runs_nothing() -> None:
    incident = make_incident(make_tenant())
    action = propose(incident, "isolate_endpoint")
    record(incident, [action], decision="declined")
    action.refresh_from_db()
    assert (action.status, action.basis) == (ActionStatus.DECLINED, "")
    assert EventKind.AUTHORIZATION_DECLINED in kinds(incident)


def test_an_action_cannot_be_authorized_twice() -> None:
    incident = make_incident(make_tenant())
    action = propose(incident, "isolate_endpoint")
    record(incident, [action])
    with pytest.raises(ValidationError, match="awaiting authorization"):
        record(incident, [action])
    assert Authorization.objects.count() == 1


def test_an_action_of_another_incident_is_refused() -> None:
    tenant = make_tenant()
    incident, other = make_incident(tenant), make_incident(tenant)
    with pytest.raises(ValidationError, match="belong to this incident"):
        record(incident, [propose(other, "isolate_endpoint")])
    assert not Authorization.objects.exists()


def test_a_contact_who_may_not_authorize_is_refused(analyst: Any) -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    contact = first_contact(tenant)
    contact_update(contact=contact, by=None, can_authorize=False)
    with pytest.raises(ValidationError) as error:
        record(incident, [action], contact=contact, recorded_by=analyst, evidence="yes")
    assert "contact" in error.value.message_dict
    action.refresh_from_db()
    assert action.status == ActionStatus.AWAITING_AUTHORIZATION


def test_another_tenants_contact_is_refused(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    action = propose(incident, "isolate_endpoint")
    with pytest.raises(ValidationError):
        record(incident, [action], contact=first_contact(make_tenant()), recorded_by=analyst, evidence="y")


def test_an_analyst_recorded_authorization_needs_evidence(analyst: Any) -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    with pytest.raises(ValidationError) as error:
        record(incident, [action], contact=first_contact(tenant), recorded_by=analyst, evidence="  ")
    assert "evidence" in error.value.message_dict


def test_a_portal_approver_may_authorize_but_a_viewer_may_not() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    with pytest.raises(ValidationError) as error:
        record(incident, [action], user=make_member(tenant, Role.VIEWER))
    assert "user" in error.value.message_dict
    authorization = record(incident, [action], user=make_member(tenant, Role.APPROVER))
    assert authorization.channel == Channel.PORTAL


def test_a_recommended_action_cannot_be_authorized_for_mdr() -> None:
    tenant = make_tenant(performers={"disable_user": Performer.CUSTOMER})
    incident = make_incident(tenant)
    action = propose(incident, "disable_user", target="j.doe")
    with pytest.raises(ValidationError):
        record(incident, [action])


def test_an_unreadable_policy_snapshot_holds_the_action() -> None:
    incident = make_incident(make_tenant(mode=ResponseMode.AUTHORIZE))
    Incident.objects.filter(pk=incident.pk).update(policy={"tier": "complete", "response_mode": "auto"})
    incident.refresh_from_db()
    action = propose(incident, "isolate_endpoint")
    assert (action.status, action.basis) == (ActionStatus.HELD, "")
    assert "could not decide" in action.decision_reason


def test_the_fallback_counts_only_when_the_snapshot_had_the_checkbox() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    Incident.objects.filter(pk=incident.pk).update(fallback_taken_at=timezone.now())
    incident.refresh_from_db()
    assert propose(incident, "isolate_endpoint").status == ActionStatus.AWAITING_AUTHORIZATION
    fallback_incident = make_incident(make_tenant(fallback=True))
    Incident.objects.filter(pk=fallback_incident.pk).update(fallback_taken_at=timezone.now())
    fallback_incident.refresh_from_db()
    action = propose(fallback_incident, "isolate_endpoint")
    assert (action.status, action.basis) == (ActionStatus.QUEUED, Basis.NO_ACK_FALLBACK)


def test_incident_status_follows_its_transitions() -> None:
    incident = make_incident(make_tenant())
    incident_change_status(incident=incident, status="contained", by=None)
    incident_change_status(incident=incident, status="closed", by=None)
    with pytest.raises(ValidationError):
        incident_change_status(incident=incident, status="contained", by=None)
    assert kinds(incident).count(EventKind.INCIDENT_STATUS) == 2


def test_an_authorization_is_immutable() -> None:
    from mdrportal.core.append_only import AppendOnlyError

    incident = make_incident(make_tenant())
    authorization = record(incident, [propose(incident, "isolate_endpoint")])
    authorization.statement = "changed my mind"
    with pytest.raises(AppendOnlyError):
        authorization.save()


def test_the_fallback_leaves_a_partners_action_with_the_partner() -> None:
    """Essentials, checkbox ticked, remove_persistence delegated to the partner: when the calls run out, the
    containment runs and the partner still holds what MDR Ops may not do; nothing lands on the customer."""
    tenant = make_tenant(
        tier=Tier.ESSENTIALS,
        fallback=True,
        partner=make_partner("fallback-msp"),
        performers={"remove_persistence": Performer.PARTNER},
    )
    incident = make_incident(tenant)
    persistence = propose(incident, "remove_persistence")
    isolate = propose(incident, "isolate_endpoint")
    assert (persistence.status, persistence.performer) == (ActionStatus.RECOMMENDED, Performer.PARTNER)

    incident_take_fallback(incident=incident, attempts=[{"call": 1, "outcome": "no_answer"}])

    persistence.refresh_from_db()
    isolate.refresh_from_db()
    assert (persistence.status, persistence.performer) == (ActionStatus.RECOMMENDED, Performer.PARTNER)
    assert "partner" in persistence.decision_reason
    assert (isolate.status, isolate.basis) == (ActionStatus.QUEUED, Basis.NO_ACK_FALLBACK)
