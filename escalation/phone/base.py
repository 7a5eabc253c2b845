"""The interface every phone backend implements."""

from __future__ import annotations

from dataclasses import dataclass
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


class PhoneError(Exception):
    """The call could not be placed. `permanent` says whether another try could help."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class PhoneBackend(Protocol):
    name: str

    def place_call(self, request: CallRequest) -> PlacedCall:
        """Place the call; its progress arrives later through call_update(). Raises PhoneError."""
        ...
