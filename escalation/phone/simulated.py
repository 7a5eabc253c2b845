"""The simulated phone: a placed call rings on the /dev/phone/ page, where a person answers it."""

from __future__ import annotations

from escalation.phone.base import CallRequest, PlacedCall


class SimulatedPhone:
    name = "simulated"

    def place_call(self, request: CallRequest) -> PlacedCall:
        # Nothing to dial: the call is the row, shown as ringing until someone plays its part or it times out.
        return PlacedCall(sid=f"SIM{request.attempt_id}")
