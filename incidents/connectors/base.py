"""The interface every connector implements, and the result it returns."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol


class ConnectorOutcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    TRANSIENT = "transient"  # worth retrying: timeout, 429, 5xx, connection refused
    PERMANENT = "permanent"  # retrying cannot help: refused, unsupported, bad target, bad credentials


@dataclass(frozen=True)
class ActionRequest:
    """Everything a connector needs to perform one attempt, read from the database before the call."""

    action_id: int
    attempt: int
    incident_id: int
    incident_title: str
    tenant_slug: str
    action_code: str
    category: str
    target: str

    @property
    def idempotency_key(self) -> str:
        # The same for every attempt of one action, so that the platform can drop a repeat.
        return f"mdr-action-{self.action_id}"


@dataclass(frozen=True)
class Result:
    outcome: ConnectorOutcome
    message: str  # a person can read it; never contains a secret
    details: dict[str, Any] = field(default_factory=dict)  # the platform's answer, as JSON-friendly data
    # How long the platform asked us to wait before retrying (Retry-After), in seconds; None if it did not.
    retry_after_seconds: float | None = None

    @classmethod
    def ok(cls, message: str, **details: Any) -> Result:
        return cls(ConnectorOutcome.SUCCEEDED, message, details)

    @classmethod
    def transient(cls, message: str, *, retry_after_seconds: float | None = None, **details: Any) -> Result:
        return cls(ConnectorOutcome.TRANSIENT, message, details, retry_after_seconds)

    @classmethod
    def permanent(cls, message: str, **details: Any) -> Result:
        return cls(ConnectorOutcome.PERMANENT, message, details)


class Connector(Protocol):
    kind: str

    def run(self, request: ActionRequest) -> Result:
        """Perform the action once. Must not raise for platform or network errors: return a Result."""
        ...


@dataclass(frozen=True)
class ConnectorSpec:
    """A tenant's connector settings as read from the database; the secret never appears in a repr."""

    kind: str
    url: str = ""
    client_id: str = ""
    external_tenant_id: str = ""
    secret: str = field(default="", repr=False)
    options: dict[str, Any] = field(default_factory=dict)
