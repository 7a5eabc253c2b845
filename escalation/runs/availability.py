"""Whom a run phones: the contacts available when it starts, frozen in the run with those left out.

A later change to a contact's availability does not change a run under way: the run keeps its plan and
its list of the contacts left out. The fallback needs an attempt of every step of the plan (DESIGN rule 6,
"every contact available at the time"); a run whose plan is empty never falls back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from escalation.models import NotificationRun, RunPurpose
from incidents.attention import incident_flag
from incidents.models import EventKind, Incident
from incidents.policy import PolicySnapshot
from incidents.timeline_writes import timeline_record
from tenants.availability import who_is_available
from tenants.models import Contact
from tenants.selectors import partner_phone_contacts, phone_contacts

ROUND_NAMES: dict[str, str] = {
    RunPurpose.NOTIFY: "notification",
    RunPurpose.REPORT: "report of what was done",
    RunPurpose.PARTNER_TASK: "partner's calls about its task",
}


@dataclass(frozen=True)
class Plan:
    steps: list[dict[str, int]]  # [{"contact": id, "try": n}, ...] in call order, round by round
    unavailable: list[dict[str, Any]]  # [{"contact": id, "name": ..., "why": ...}, ...]
    contacts: dict[int, Contact] = field(default_factory=dict)  # those phoned, as read for the plan


def plan_make(incident: Incident, *, purpose: str, at: datetime) -> Plan:
    """Every active contact with a phone available at the instant, in call order, the policy's number of
    times; a report (what was done) calls each once."""
    policy = PolicySnapshot.read(incident)
    tries = 1 if purpose == RunPurpose.REPORT else policy.call_attempts_per_contact
    if purpose == RunPurpose.PARTNER_TASK:  # the partner's own people, on the partner's clock
        partner = incident.tenant.partner
        if partner is None:  # partner_tasks_call starts a partner's run only for a tenant with a partner
            raise ValueError(f"incident #{incident.pk}: its tenant has no partner to phone")
        contacts, zone = partner_phone_contacts(partner.pk), partner.timezone
    else:  # the customer's clock as the incident's policy snapshot holds it (DESIGN rule 9)
        contacts, zone = phone_contacts(incident.tenant), policy.timezone
    available, unavailable = who_is_available(contacts.prefetch_related("windows", "away_periods"), at, zone)
    return Plan(
        steps=[{"contact": c.pk, "try": t} for t in range(1, tries + 1) for c in available],
        unavailable=[{"contact": u.contact.pk, "name": u.contact.name, "why": u.why} for u in unavailable],
        contacts={c.pk: c for c in available},
    )


def nobody_available(run: NotificationRun) -> bool:
    """The run phones nobody because every contact with a phone was unavailable when it started."""
    return not run.plan and bool(run.unavailable)


def plan_announce(run: NotificationRun, incident: Incident) -> None:
    """Name the contacts left out of a new run on the timeline; flag the incident when nobody is left."""
    if not run.unavailable:
        return
    names = "; ".join(f"{u['name']} ({u['why']})" for u in run.unavailable)
    timeline_record(
        incident=incident,
        kind=EventKind.NOTIFICATION_STARTED,
        summary=f"Not phoned in round {run.round} of the {ROUND_NAMES[run.purpose]}, unavailable at the time: "
        f"{names}.",
        data={"run": run.pk, "unavailable": run.unavailable},
    )
    if nobody_available(run) and run.purpose == RunPurpose.NOTIFY:
        incident_flag(
            incident=incident,
            reason=f"Nobody available: no contact with a phone number may be phoned now (round {run.round}). "
            "Emails are sent; nobody is phoned, nothing falls back and nothing is executed without the "
            "customer.",
        )
