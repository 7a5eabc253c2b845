"""The simulated SMS backend: a text is only its row, which the /dev/phone/ page shows."""

from __future__ import annotations

from escalation.sms.base import SentText, TextRequest


class SimulatedSms:
    name = "simulated"

    def send(self, request: TextRequest) -> SentText:
        return SentText(sid=f"SIMSM{request.text_id}", status="delivered")
