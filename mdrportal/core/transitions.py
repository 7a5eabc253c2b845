"""One guard for every state field with a transition table (incidents, actions, notification runs)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from django.core.exceptions import ValidationError


class TransitionError(ValidationError):
    """A status change that the transition table does not allow."""


def allowed_next(table: Mapping[str, Collection[str]], old: str) -> Collection[str]:
    return table.get(old, ())


def check_transition(table: Mapping[str, Collection[str]], old: str, new: str, *, what: str) -> None:
    """Raise TransitionError unless the table lets `what` go from old to new (staying put is no change)."""
    if new != old and new not in allowed_next(table, old):
        raise TransitionError(f"{what} cannot go from {old} to {new}.", code="bad_transition")
