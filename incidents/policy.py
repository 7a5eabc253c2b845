"""The response policy as snapshotted on an incident, read one way by everyone who reads it."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from typing import Any

from incidents.gate import GateError, Policy
from incidents.models import SEVERITY_RANK, Incident
from tenants.models import ResponseMode, Tier

DEFAULT_CALL_ATTEMPTS = 1
DEFAULT_RING_TIMEOUT_SECONDS = 30
DEFAULT_REMINDER_MINUTES = 15
DEFAULT_REMINDER_COUNT = 4
DEFAULT_TIMEZONE = "UTC"


def _positive(snapshot: dict[str, Any], key: str, default: int) -> int:
    value = snapshot.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def _zone(value: object) -> str:
    # A snapshot taken before the zone was kept, or a damaged one, reads the clock in UTC.
    if not isinstance(value, str) or not value:
        return DEFAULT_TIMEZONE
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return DEFAULT_TIMEZONE
    return value


def _severity(value: object) -> str:
    # An unknown severity in a damaged snapshot notifies from every severity: notifying more is the safe side.
    if not value:
        return ""
    return value if isinstance(value, str) and value in SEVERITY_RANK else list(SEVERITY_RANK)[-1]


@dataclass(frozen=True)
class PolicySnapshot:
    """An incident's policy. What decides (mode, checkbox, tier, performers) is read strictly by the gate's
    Policy: a damaged snapshot decides nothing (`policy` is None). How calls are paced and how often the
    customer is reminded have safe defaults, since notifying more is never the unsafe side."""

    policy: Policy | None
    call_attempts_per_contact: int
    ring_timeout_seconds: int
    reminder_minutes: int = DEFAULT_REMINDER_MINUTES
    reminder_count: int = DEFAULT_REMINDER_COUNT
    notify_from_severity: str = ""
    timezone: str = DEFAULT_TIMEZONE  # the customer's clock: who is available when (contacts' windows)
    error: str = ""

    @classmethod
    def read(cls, incident: Incident) -> PolicySnapshot:
        snapshot = incident.policy if isinstance(incident.policy, dict) else {}
        try:
            policy, error = Policy.from_snapshot(snapshot), ""
        except GateError as problem:
            policy, error = None, str(problem)
        return cls(
            policy=policy,
            call_attempts_per_contact=_positive(snapshot, "call_attempts_per_contact", DEFAULT_CALL_ATTEMPTS),
            ring_timeout_seconds=_positive(snapshot, "ring_timeout_seconds", DEFAULT_RING_TIMEOUT_SECONDS),
            reminder_minutes=_positive(snapshot, "reminder_minutes", DEFAULT_REMINDER_MINUTES),
            reminder_count=_positive(snapshot, "reminder_count", DEFAULT_REMINDER_COUNT),
            notify_from_severity=_severity(snapshot.get("notify_from_severity")),
            timezone=_zone(snapshot.get("timezone")),
            error=error,
        )

    @property
    def falls_back(self) -> bool:
        """Collaborate with the checkbox ticked: nobody acknowledging leads to acting as in Authorize mode."""
        return (
            self.policy is not None
            and self.policy.response_mode is ResponseMode.COLLABORATE
            and self.policy.authorize_on_no_ack
        )

    def notifies_at(self, severity: str) -> bool:
        """An incident of this severity notifies the customer as soon as it is known, needing no action."""
        if not self.notify_from_severity:
            return False
        return SEVERITY_RANK.get(severity, 0) <= SEVERITY_RANK[self.notify_from_severity]

    @property
    def authorize_mode(self) -> bool:
        return self.policy is not None and self.policy.response_mode is ResponseMode.AUTHORIZE

    @property
    def tier(self) -> Tier | None:
        return None if self.policy is None else self.policy.tier

    @property
    def mode_label(self) -> str:
        """The mode in force, as a person reads it."""
        if self.policy is None:
            return f"Unreadable policy ({self.error})"
        if self.authorize_mode:
            return "Authorize mode"
        return "Collaborate mode" + (" with the no-acknowledgment fallback" if self.falls_back else "")
