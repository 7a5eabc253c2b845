"""Which backend sends texts: Twilio when its credentials and a sender are set, the simulated one otherwise."""

from __future__ import annotations

from django.conf import settings

from escalation.sms.base import SmsBackend
from escalation.sms.simulated import SimulatedSms
from escalation.sms.twilio import TwilioSms


def twilio_messaging_configured() -> bool:
    sender = settings.TWILIO_MESSAGING_FROM or settings.TWILIO_MESSAGING_SERVICE_SID
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and sender)


def sms_backend() -> SmsBackend:
    if twilio_messaging_configured():
        return TwilioSms()
    return SimulatedSms()
