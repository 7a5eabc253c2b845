"""The phone provider and its carrier as the escalation model sees them: it accepts or refuses calls, and
tells how each stands (Twilio's status names)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from escalation.calls.pace import Grant
from escalation.phone.base import CallRef, CallRequest, CallStatus, PhoneError, PlacedCall
from tests.escalation_model_invariants import InvariantViolated

if TYPE_CHECKING:
    from tests.escalation_model import EscalationModel

# The carrier's moves from each status of a call it accepted (Twilio's status names).
CARRIER = {
    "queued": ("ringing", "failed"),
    "ringing": ("in-progress", "busy", "no-answer", "failed"),
    "in-progress": ("completed",),
}
RANG = frozenset({"ringing", "in-progress", "completed", "busy", "no-answer"})
_sids = itertools.count(1)


@dataclass
class ProviderCall:
    attempt_id: int
    status: str = "queued"
    answered_by: str = ""
    history: list[str] = field(default_factory=list)


class ModelPhone:
    """The phone provider and its carrier. It accepts or refuses calls and tells how each stands."""

    name = "twilio"

    def __init__(self, machine: EscalationModel) -> None:
        self.machine = machine
        self.down = False
        self.calls: dict[str, ProviderCall] = {}
        self.placed: list[int] = []

    def place_call(self, request: CallRequest) -> PlacedCall:
        self.machine.check_call_may_be_placed(request.attempt_id)
        if request.attempt_id in self.placed:
            raise InvariantViolated(f"(d) call row {request.attempt_id} reached the provider twice")
        self.placed.append(request.attempt_id)
        type(self.machine).placed += 1
        if self.down:
            raise PhoneError("Twilio refused the call: HTTP 503")
        sid = f"CA{next(_sids):032d}"
        self.calls[sid] = ProviderCall(attempt_id=request.attempt_id)
        return PlacedCall(sid=sid)

    def fetch_status(self, call: CallRef) -> CallStatus:
        if self.down:
            raise PhoneError("Twilio did not tell the call's status: HTTP 503")
        known = self.calls[call.sid]
        return CallStatus(known.status, known.answered_by)

    def find_calls(self, call: CallRef) -> list[str]:
        if self.down:
            raise PhoneError("Twilio did not list the calls: HTTP 503")
        return [sid for sid, known in self.calls.items() if known.attempt_id == call.attempt_id]

    def hang_up(self, call: CallRef) -> CallStatus:
        if self.down:
            raise PhoneError("Twilio did not hang up the call: HTTP 503")
        known = self.calls[call.sid]
        if known.status in CARRIER:
            known.status = "completed" if known.status == "in-progress" else "canceled"
            known.history.append(known.status)
        return CallStatus(known.status, known.answered_by)

    def rang(self, sid: str) -> bool:
        known = self.calls.get(sid)
        return known is not None and bool(RANG & {known.status, *known.history})


class ModelPacer:
    """The call pacer, made of the sequence alone: every other ask for a slot finds none free. Replaying a
    sequence must meet the same world (the real pacer follows the clock), and a claim released for want of
    a slot, then placed by the dispatcher sent for it, is part of what the model explores."""

    def __init__(self) -> None:
        self.asked = 0

    def _free(self) -> bool:
        return self.asked % 2 == 0

    def next_slot(self) -> Grant:
        return Grant(granted=False, wait=0.0 if self._free() else 0.5, wake=True)

    def acquire(self) -> Grant:
        free, self.asked = self._free(), self.asked + 1
        return Grant(granted=True) if free else Grant(granted=False, wait=0.5, wake=True)
