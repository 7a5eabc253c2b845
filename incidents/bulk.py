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
    return [
        target_propose(
            incident=incident,
            action_type=action_type,
            target=target,
            by=by,
            channel=channel,
            observable=observables.get(target),
        )
        for target in targets
    ]


def target_propose(
    *,
    incident: Incident,
    action_type: ActionType,
    target: str,
    by: User,
    channel: str,
    observable: Observable | None = None,
) -> BulkOutcome:
    """Propose the action on one target of many (its own transaction, or a savepoint of the caller's), linked
    to the observable it comes from: its action, or why it was refused."""
    if len(target) > TARGET_MAX:
        return BulkOutcome(target=target, action=None, error=f"A target is at most {TARGET_MAX} characters.")
    try:
        action = action_propose(
            incident=incident,
            action_type=action_type,
            target=target,
            by=by,
            channel=channel,
            observables=[observable] if observable else [],
        )
    except ValidationError as error:
        return BulkOutcome(target=target, action=None, error=" ".join(error.messages))
    return BulkOutcome(target=target, action=action)
