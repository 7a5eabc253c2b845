"""The simulated phone: a placed call rings on the /dev/phone/ page, where a person answers it."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from escalation.phone.base import CallRef, CallRequest, CallStatus, PlacedCall

# An answered simulated call that nobody ends on the page hangs up by itself after this long.
ANSWERED_CALL_SECONDS = 300


class SimulatedPhone:
    name = "simulated"

    def place_call(self, request: CallRequest) -> PlacedCall:
        # Nothing to dial: the call is the row, shown as ringing until someone plays its part or it times out.
        return PlacedCall(sid=f"SIM{request.attempt_id}")

    def fetch_status(self, call: CallRef) -> CallStatus:
        """The simulated carrier: unanswered calls ring out after the ring timeout, answered ones end later."""
        now = timezone.now()
        rings_until = call.placed_at + timedelta(seconds=call.ring_timeout_seconds)
        if call.provider_status == "in-progress":
            if now >= rings_until + timedelta(seconds=ANSWERED_CALL_SECONDS):
                return CallStatus("completed", call.answered_by)
            return CallStatus("in-progress", call.answered_by)
        if now >= rings_until:
            return CallStatus("no-answer")
        return CallStatus("ringing")

    def find_calls(self, call: CallRef) -> list[str]:
        # Nothing rings outside the portal: a call whose id was not recorded rang nowhere.
        return []

    def hang_up(self, call: CallRef) -> CallStatus:
        # Twilio's words for the same: a ringing call is canceled, an answered one completed.
        if call.provider_status == "in-progress":
            return CallStatus("completed", call.answered_by)
        return CallStatus("canceled")
