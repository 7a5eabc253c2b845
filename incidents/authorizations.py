"""Written authorizations: who may give one, through which channel, and what it decides."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents.actions import action_apply_decision, action_move
from incidents.active_guard import incident_must_be_active
from incidents.attention import incident_flag
from incidents.locks import actions_lock, incident_lock
from incidents.models import ActionStatus, Authorization, Channel, EventKind, Incident, ResponseAction
from incidents.selectors import gate_decision
from incidents.timeline_writes import timeline_record
from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import User
from tenants.deciding import AUTHORIZE, DECLINE, acting_partner, actor_label_at, deciding_refusal
from tenants.models import Contact, Tenant
from tenants.services import actor_label


def _check_who(
    *,
    tenant: Tenant,
    decision: str,
    channel: str,
    contact: Contact | None,
    user: User | None,
    recorded_by: User | None,
    evidence: str,
) -> None:
    if contact is not None and (
        contact.tenant_id != tenant.pk or not contact.active or not contact.can_authorize
    ):
        raise ValidationError(
            {"contact": f"{contact} is not an active contact of {tenant} allowed to authorize."}
        )
    if user is not None:
        operation = AUTHORIZE if decision == Authorization.Decision.GRANTED else DECLINE
        refused = deciding_refusal(user=user, tenant=tenant, operation=operation)
        if refused is not None:
            raise ValidationError({"user": f"{user.get_username()}: {refused}"})
    if channel == Channel.ANALYST_RECORDED:
        if contact is None:
            raise ValidationError({"contact": "Say which contact wrote the authorization."})
        if recorded_by is None or not recorded_by.is_staff:
            raise ValidationError(
                {"recorded_by": "Only an MDR analyst records an authorization received elsewhere."}
            )
        if not evidence.strip():
            raise ValidationError({"evidence": "Paste the customer's written message (or its reference)."})
    elif channel in (Channel.PORTAL, Channel.API) and user is None:
        raise ValidationError({"user": "Portal and API decisions are made by a logged-in approver."})
    elif channel == Channel.EMAIL_LINK and contact is None:
        raise ValidationError({"contact": "An emailed link is bound to a contact."})
    elif channel not in (Channel.PORTAL, Channel.API, Channel.EMAIL_LINK, Channel.ANALYST_RECORDED):
        raise ValidationError(
            {"channel": f"{channel!r} is not a channel written authorization comes through."}
        )


@retried_atomic
def authorization_record(
    *,
    incident: Incident,
    actions: Sequence[ResponseAction],
    decision: str,
    channel: str,
    text_shown: str,
    contact: Contact | None = None,
    user: User | None = None,
    recorded_by: User | None = None,
    statement: str = "",
    evidence: str = "",
    ip_address: str | None = None,
    user_agent: str = "",
) -> Authorization:
    """Record a customer's written decision on exact actions; granted actions go to execution."""
    if decision not in Authorization.Decision.values:
        raise ValidationError({"decision": f"{decision!r} is neither granted nor declined."})
    if not actions:
        raise ValidationError({"actions": "Choose at least one action."})
    if not text_shown.strip():
        raise ValidationError({"text_shown": "The text the customer decided on is required."})
    locked = incident_lock(incident.pk)
    incident_must_be_active(locked, what="a decision on its actions")
    _check_who(
        tenant=locked.tenant,
        decision=decision,
        channel=channel,
        contact=contact,
        user=user,
        recorded_by=recorded_by,
        evidence=evidence,
    )
    ids = sorted({a.pk for a in actions})
    scope = list(actions_lock(locked, statuses=ActionStatus.values).filter(pk__in=ids))
    if len(scope) != len(ids):
        raise ValidationError({"actions": "Every action must belong to this incident."})
    undecided = [a for a in scope if a.status != ActionStatus.AWAITING_AUTHORIZATION]
    if undecided:
        names = ", ".join(f"#{a.pk} ({a.get_status_display().lower()})" for a in undecided)
        raise ValidationError({"actions": f"Only actions awaiting authorization can be decided on: {names}."})

    authorization = Authorization.objects.create(
        incident=locked,
        decision=decision,
        scope=[{"action": a.pk, "action_type": a.action_type.code, "target": a.target} for a in scope],
        contact=contact,
        user=user,
        recorded_by=recorded_by,
        channel=channel,
        at=timezone.now(),
        text_shown=text_shown,
        statement=statement,
        evidence=evidence,
        ip_address=ip_address,
        user_agent=user_agent[:400],
    )
    who = contact.name if contact is not None else actor_label_at(user, locked.tenant)
    granted = decision == Authorization.Decision.GRANTED
    verb = "authorized" if granted else "declined"
    partner = acting_partner(user, locked.tenant) if contact is None else None
    # A decision made under the customer's delegation says so, naming the partner.
    said = (
        f"{partner} (partner) {verb} in writing for {locked.tenant} under its delegation"
        if partner
        else (f"{who} {verb} in writing")
    )
    timeline_record(
        incident=locked,
        kind=EventKind.AUTHORIZATION_GIVEN if granted else EventKind.AUTHORIZATION_DECLINED,
        summary=f"{said}: " + ", ".join(str(a) for a in scope),
        by=recorded_by or user,
        label=who if recorded_by is None else f"{who} (recorded by {actor_label(recorded_by)})",
        channel=channel,
        data={"authorization": authorization.pk, "scope": authorization.scope, "statement": statement},
    )
    for action in scope:
        action.incident = locked
        action.authorization = authorization
        action.save(update_fields=["authorization", "updated_at"])
        if granted:
            action_apply_decision(action, gate_decision(action), by=recorded_by or user, channel=channel)
        else:
            action_move(
                action,
                ActionStatus.DECLINED,
                basis="",
                reason=f"Declined in writing by {who}: MDR Ops will not perform it.",
                by=recorded_by or user,
                channel=channel,
            )
    if not granted:
        # A declined action is done by nobody: an analyst agrees with the customer what happens instead.
        incident_flag(
            incident=locked,
            reason=f"{who} declined in writing: {', '.join(str(a) for a in scope)}. Nobody performs it now; "
            "an analyst should follow up with the customer.",
            by=recorded_by or user,
            channel=channel,
        )
    return authorization
