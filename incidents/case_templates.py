"""Applying a case template to an incident: its recommendations filled in (a case file edit, still editable)
and its actions proposed through the gate for the incident's observables of the right kind, one decision
per target as bulk proposals make them."""

from __future__ import annotations

from dataclasses import dataclass

from incidents.active_guard import incident_must_be_active
from incidents.bulk import BulkOutcome, actions_propose_many, observables_of_kind
from incidents.case_file import incident_edit
from incidents.locks import incident_lock
from incidents.models import CaseTemplate, Channel, EventKind, Incident
from incidents.timeline_writes import timeline_record
from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import User


@dataclass(frozen=True)
class TemplateApplied:
    """What applying a template did: the case file fields it changed, and each target's proposal."""

    changed: list[str]
    outcomes: list[BulkOutcome]


def recommendations_with(current: str, added: str) -> str:
    """The template's recommendations fill an empty field and follow what the analyst wrote, once."""
    if not added.strip() or added.strip() in current:
        return current
    return f"{current.rstrip()}\n\n{added.strip()}" if current.strip() else added.strip()


@retried_atomic
def _template_record(*, incident: Incident, template: CaseTemplate, by: User, channel: str) -> list[str]:
    locked = incident_lock(incident.pk)
    incident_must_be_active(locked, what="applying a case template")
    timeline_record(
        incident=locked,
        kind=EventKind.TEMPLATE_APPLIED,
        summary=f"Case template applied: {template}",
        by=by,
        channel=channel,
        data={"template": template.pk, "incident_type": template.incident_type},
    )
    wanted = recommendations_with(locked.recommendations, template.recommendations)
    changed = incident_edit(incident=locked, by=by, channel=channel, recommendations=wanted)
    incident.recommendations = locked.recommendations
    return changed


def case_template_apply(
    *, incident: Incident, template: CaseTemplate, by: User, channel: str = Channel.ADMIN
) -> TemplateApplied:
    """Fill in the template's recommendations, then propose each of its actions for every observable of
    its kind the incident holds (each proposal its own transaction, through the gate)."""
    changed = _template_record(incident=incident, template=template, by=by, channel=channel)
    outcomes: list[BulkOutcome] = []
    for planned in template.actions.select_related("action_type"):
        held = observables_of_kind(incident, planned.observable_kind)
        if held:
            outcomes += actions_propose_many(
                incident=incident,
                action_type=planned.action_type,
                targets=list(held),
                by=by,
                channel=channel,
                observables=held,
            )
    return TemplateApplied(changed=changed, outcomes=outcomes)
