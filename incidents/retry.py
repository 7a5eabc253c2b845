"""Retrying a failed action: the same action type on the same target, proposed again through the gate (the
policy, the authorizations and the incident's state may have changed since)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from incidents.actions import action_propose
from incidents.models import ActionStatus, Channel, ResponseAction
from mdrportal.core.users import User

RETRYABLE = frozenset({ActionStatus.FAILED})


def action_retry(*, action: ResponseAction, by: User, channel: str = Channel.ADMIN) -> ResponseAction:
    """Propose a failed action again; the failed one stays as it is, on the record."""
    if action.status not in RETRYABLE:
        raise ValidationError(
            f"{action} is {action.get_status_display().lower()}: only a failed action can be retried.",
            code="not_failed",
        )
    return action_propose(
        incident=action.incident,
        action_type=action.action_type,
        target=action.target,
        by=by,
        channel=channel,
        reverts=action.reverts,
    )
