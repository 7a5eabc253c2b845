"""Case templates: the one rule for what a template may propose (checked by the admin's forms and again on
applying), and applying one to an incident: its recommendations filled in (a case file edit, still editable)
and its actions proposed through the gate for the incident's observables of the right kind, one decision per
target, except where the same action already stands."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError

from incidents.active_guard import incident_must_be_active
from incidents.bulk import BULK_MAX, BulkOutcome, observables_of_kind, target_propose
from incidents.case_file import incident_edit
from incidents.locks import incident_lock
from incidents.models import (
    LAPSED_STATUSES,
    ActionType,
    CaseTemplate,
    CaseTemplateAction,
    Channel,
    EventKind,
    Incident,
    Observable,
    ObservableKind,
    ResponseAction,
)
from incidents.observable_links import kinds_for
from incidents.observables import observable_normalize
from incidents.timeline_writes import timeline_record
from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import User


@dataclass(frozen=True)
class TemplateSkip:
    """A target the template's action was not proposed for: the same action stands on it already."""

    target: str
    action_type: ActionType
    action: ResponseAction
    reason: str


@dataclass(frozen=True)
class TemplateApplied:
    """What applying a template did: the case file fields it changed, each target's proposal, and the targets
    left alone because the same action stands on them already."""

    changed: list[str]
    outcomes: list[BulkOutcome]
    skipped: list[TemplateSkip]


def case_template_action_check(*, action_type: ActionType, observable_kind: str) -> None:
    """A template's action must act on the observables that feed it: isolating an endpoint takes hosts or
    addresses, never hashes or accounts (the kinds each action type acts on: incidents.observable_links)."""
    if observable_kind not in ObservableKind.values:
        raise ValidationError(
            {"observable_kind": f"No observable kind “{observable_kind}”."}, code="bad_kind"
        )
    kinds = kinds_for(action_type.code)
    if observable_kind not in kinds:
        names = ", ".join(str(ObservableKind(kind).label) for kind in kinds)
        raise ValidationError(
            {
                "observable_kind": f"{action_type.name} acts on {names} observables, not on "
                f"{ObservableKind(observable_kind).label} ones."
            },
            code="kind_not_acted_on",
        )


def case_template_check(template: CaseTemplate, planned: list[CaseTemplateAction] | None = None) -> None:
    """Every action of the template passes the rule (a template saved before the rule, or outside the admin,
    is refused whole rather than applied in part)."""
    for action in template.actions.select_related("action_type") if planned is None else planned:
        try:
            case_template_action_check(action_type=action.action_type, observable_kind=action.observable_kind)
        except ValidationError as error:
            raise ValidationError(
                f"The case template “{template}” cannot be applied until it is fixed in the admin: "
                f"{' '.join(error.messages)}",
                code="bad_template",
            ) from error


def recommendations_with(current: str, added: str) -> str:
    """The template's recommendations fill an empty field and follow what the analyst wrote, once (the same
    text with other line breaks or spacing is the same text)."""
    if not added.strip() or " ".join(added.split()) in " ".join(current.split()):
        return current
    return f"{current.rstrip()}\n\n{added.strip()}" if current.strip() else added.strip()


def actions_standing(incident: Incident) -> list[ResponseAction]:
    """The incident's actions that still stand (waiting, queued, running, succeeded, with the customer or
    done), oldest first, each with the observables it is linked to: read once for a whole template."""
    standing = incident.actions.exclude(status__in=LAPSED_STATUSES).order_by("pk")
    return list(standing.prefetch_related("observables"))


def action_standing(
    standing: list[ResponseAction], action_type: ActionType, observable: Observable
) -> ResponseAction | None:
    """The standing action of this type on the observable: linked to it, or its target is the observable's
    value in any spelling (an analyst's "WS-01" is the host ws-01). None when there is none (every such action
    lapsed: declined, canceled, failed, reverted): then it may be proposed again."""
    of_type = [a for a in standing if a.action_type_id == action_type.pk]
    linked = next((a for a in of_type if observable in a.observables.all()), None)
    if linked is not None:
        return linked
    return next((a for a in of_type if _normal(observable.kind, a.target) == observable.value), None)


def _normal(kind: str, target: str) -> str | None:
    try:
        return observable_normalize(kind, target)
    except ValidationError:
        return None  # no value of this kind: another target


@dataclass(frozen=True)
class _Planned:
    action_type: ActionType
    target: str
    observable: Observable


def _plan(incident: Incident, planned: list[CaseTemplateAction]) -> tuple[list[_Planned], list[TemplateSkip]]:
    """What is not there yet, each once; and what is, with the action that stands."""
    to_propose: list[_Planned] = []
    skipped: list[TemplateSkip] = []
    seen: set[tuple[int, str]] = set()
    standing = actions_standing(incident)
    for row in planned:
        held = observables_of_kind(incident, row.observable_kind)
        if len(held) > BULK_MAX:
            raise ValidationError(
                f"{row}: the incident holds {len(held)} such observables; a template proposes for at most "
                f"{BULK_MAX} at once (propose the others in bulk).",
                code="too_many",
            )
        for target, observable in held.items():
            if (row.action_type.pk, target) in seen:
                continue  # two of the template's rows feed the same target: it is decided once
            seen.add((row.action_type.pk, target))
            there = action_standing(standing, row.action_type, observable)
            if there is None:
                to_propose.append(_Planned(row.action_type, target, observable))
                continue
            reason = (
                f"Already there: action #{there.pk}, {row.action_type.name} on {there.target} "
                f"({there.get_status_display()})."
            )
            skipped.append(
                TemplateSkip(target=target, action_type=row.action_type, action=there, reason=reason)
            )
    return to_propose, skipped


@retried_atomic
def case_template_apply(
    *, incident: Incident, template: CaseTemplate, by: User, channel: str = Channel.ADMIN
) -> TemplateApplied:
    """Fill in the template's recommendations (once), then propose each of its actions through the gate for
    every observable of its kind the incident holds, except where the same action stands already.

    One transaction under the incident's lock, from the check to the last proposal: two analysts applying at
    once (or two templates that share an action) propose each action once; the second is told it is there.
    """
    planned = list(template.actions.select_related("action_type"))
    case_template_check(template, planned)
    locked = incident_lock(incident.pk)
    incident_must_be_active(locked, what="applying a case template")
    to_propose, skipped = _plan(locked, planned)
    timeline_record(
        incident=locked,
        kind=EventKind.TEMPLATE_APPLIED,
        summary=f"Case template applied: {template}. Actions to propose: {len(to_propose)}; "
        f"already there: {len(skipped)}.",
        by=by,
        channel=channel,
        data={
            "template": template.pk,
            "incident_type": template.incident_type,
            "skipped": [{"action": s.action.pk, "target": s.target} for s in skipped],
        },
    )
    wanted = recommendations_with(locked.recommendations, template.recommendations)
    changed = incident_edit(incident=locked, by=by, channel=channel, recommendations=wanted)
    outcomes = [
        target_propose(
            incident=locked,
            action_type=p.action_type,
            target=p.target,
            by=by,
            channel=channel,
            observable=p.observable,
        )
        for p in to_propose
    ]
    incident.recommendations = locked.recommendations
    return TemplateApplied(changed=changed, outcomes=outcomes, skipped=skipped)
