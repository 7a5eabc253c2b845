"""Proposing one action type for many targets at once: each target is its own proposal through the gate,
with its own decision (or the reason it was refused)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError

from incidents.actions import action_propose
from incidents.models import ActionType, Channel, Incident, Observable, ResponseAction
from mdrportal.core.users import User

BULK_MAX = 200
TARGET_MAX = ResponseAction._meta.get_field("target").max_length or 255
_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class BulkOutcome:
    """What became of one target: the action proposed (with the gate's decision), or why none was."""

    target: str
    action: ResponseAction | None
    error: str = ""


def bulk_targets(pasted: str, *extra: str) -> list[str]:
    """The targets of a pasted list (one per line, or separated by commas, semicolons or spaces) and of the
    extra values, each once, in the order first given."""
    seen: dict[str, None] = {}
    for target in [*_SEPARATORS.split(pasted), *extra]:
        if target.strip():
            seen.setdefault(target.strip(), None)
    return list(seen)


def observables_of_kind(incident: Incident, kind: str | None) -> dict[str, Observable]:
    """The incident's observables of the kind (none without one), by value: targets each action links to."""
    if not kind:
        return {}
    return {o.value: o for o in incident.observables.filter(kind=kind).order_by("value")}


def actions_propose_many(
    *,
    incident: Incident,
    action_type: ActionType,
    targets: list[str],
    by: User,
    channel: str = Channel.ADMIN,
    observables: dict[str, Observable] | None = None,
) -> list[BulkOutcome]:
    """Propose the action on each target; one refused target does not stop the others. Each proposal is its
    own transaction, so the incident's lock is held for one target at a time. A target that is one of the
    `observables` (by value) links its action to it."""
    observables = observables or {}
    if not targets:
        raise ValidationError({"targets": "Give at least one target."}, code="no_targets")
    if len(targets) > BULK_MAX:
        raise ValidationError({"targets": f"At most {BULK_MAX} targets at once."}, code="too_many")
    outcomes = []
    for target in targets:
        if len(target) > TARGET_MAX:
            outcomes.append(
                BulkOutcome(target=target, action=None, error=f"A target is at most {TARGET_MAX} characters.")
            )
            continue
        try:
            used = [observables[target]] if target in observables else []
            action = action_propose(
                incident=incident,
                action_type=action_type,
                target=target,
                by=by,
                channel=channel,
                observables=used,
            )
        except ValidationError as error:
            outcomes.append(BulkOutcome(target=target, action=None, error=" ".join(error.messages)))
        else:
            outcomes.append(BulkOutcome(target=target, action=action))
    return outcomes
