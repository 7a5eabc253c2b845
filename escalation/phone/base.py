"""The interface every phone backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class CallRequest:
    """Everything needed to place one claimed call, read from the database before the call."""

    attempt_id: int
    to: str  # E.164
    ring_timeout_seconds: int


@dataclass(frozen=True)
class PlacedCall:
    sid: str  # the provider's id of the call, used to match its callbacks


@dataclass(frozen=True)
class CallRef:
    """A call the provider accepted, as the provider is asked about it or told to hang it up."""

    attempt_id: int
    sid: str
    placed_at: datetime
    ring_timeout_seconds: int
    to: str = ""  # E.164; how the provider finds a call whose id was never recorded
    # What the provider last told us (the simulated phone keeps its state there).
    provider_status: str = ""
    answered_by: str = ""


@dataclass(frozen=True)
class CallStatus:
    """The provider's own word on a call: Twilio's status names (queued, ringing, in-progress, completed,
    busy, no-answer, failed, canceled) and, once known, who answered (human, machine_..., fax)."""

    status: str
    answered_by: str = ""


class PhoneError(Exception):
    """The provider refused the request or gave no clear answer. Every such call is no attempt and is
    placed again after a backoff, whatever the reason (DESIGN rule 6), so the error carries only its text."""


class PhoneBackend(Protocol):
    name: str

    def place_call(self, request: CallRequest) -> PlacedCall:
        """Place the call; its progress arrives later through call_update(). Raises PhoneError."""
        ...

    def fetch_status(self, call: CallRef) -> CallStatus:
        """Ask the provider how the call stands (when its callback is late). Raises PhoneError."""
        ...

    def hang_up(self, call: CallRef) -> CallStatus:
        """End a call that is ringing or answered; how it stands after. Raises PhoneError."""
        ...

    def find_calls(self, call: CallRef) -> list[str]:
        """The provider's ids of the calls it has to this call's number, made since the call was claimed,
        newest first: for a claim whose answer was never recorded (the database or the placing worker went
        away in between), so that it is not placed a second time. Raises PhoneError."""
        ...
