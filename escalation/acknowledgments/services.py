"""Acknowledgments: a contact or customer user says "we have it". Calls stop; nothing is authorized."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from escalation.models import Acknowledgment, CallAttempt, RunState
from escalation.runs.states import runs_stop
from escalation.runs.tell import tell_acknowledged
from incidents.active_guard import incident_must_be_active
from incidents.locks import incident_lock
from incidents.models import Channel, EventKind, Incident
from incidents.timeline_writes import timeline_record
from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import User
from tenants.deciding import ACKNOWLEDGE, acting_partner, actor_label_at, deciding_refusal
from tenants.models import Contact


def acknowledge(
    incident: Incident,
    *,
    contact: Contact | None,
    user: User | None,
    channel: str,
    call: CallAttempt | None = None,
) -> Acknowledgment:
    """Record an acknowledgment on a locked incident and stop its runs: somebody has it now."""
    ack = Acknowledgment.objects.create(
        incident=incident, contact=contact, user=user, channel=channel, call=call
    )
    who = contact.name if contact is not None else actor_label_at(user, incident.tenant)
    partner = acting_partner(user, incident.tenant) if contact is None else None
    # One made under the customer's delegation says so, naming the partner.
    said = (
        f"{partner} (partner) acknowledged for {incident.tenant} under its delegation"
        if partner
        else (f"{who} acknowledged")
    )
    timeline_record(
        incident=incident,
        kind=EventKind.ACKNOWLEDGED,
        summary=f"{said} ({Channel(channel).label.lower()}). This is not an authorization.",
        by=user,
        label=who,
        channel=channel,
        data={"acknowledgment": ack.pk, "call": call.pk if call else None},
    )
    # The current round, any round scheduled for later, and a report being phoned: somebody has it now.
    runs_stop(incident, RunState.ACKNOWLEDGED, partners=False)
    tell_acknowledged(incident, ack)
    return ack


@retried_atomic
def acknowledgment_record(
    *, incident: Incident, channel: str, contact: Contact | None = None, user: User | None = None
) -> Acknowledgment:
    """A contact or customer user says 'we have it': further calls stop. It authorizes nothing."""
    locked = incident_lock(incident.pk)
    incident_must_be_active(locked, what="acknowledging it")
    if contact is None and user is None:
        raise ValidationError("Say who acknowledges.", code="no_one")
    if contact is not None and (contact.tenant_id != locked.tenant_id or not contact.active):
        raise ValidationError({"contact": f"{contact} is not an active contact of {locked.tenant}."})
    # Staff never acknowledge for the customer: that would stop the calls and so the no-answer fallback.
    if user is not None:
        refused = deciding_refusal(user=user, tenant=locked.tenant, operation=ACKNOWLEDGE)
        if refused is not None:
            raise ValidationError({"user": refused})
    return acknowledge(locked, contact=contact, user=user, channel=channel)
