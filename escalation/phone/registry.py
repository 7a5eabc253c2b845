"""Which phone backend places calls: Twilio when its credentials are set, the simulated phone otherwise."""

from __future__ import annotations

from django.conf import settings

from escalation.phone.base import PhoneBackend, PhoneError
from escalation.phone.simulated import SimulatedPhone
from escalation.phone.twilio import TwilioPhone


def twilio_configured() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM_NUMBER)


def phone_backend() -> PhoneBackend:
    if twilio_configured():
        return TwilioPhone()
    return SimulatedPhone()


def phone_backend_named(name: str) -> PhoneBackend:
    """The backend that placed a call, to ask about it or hang it up: a call stays with its provider."""
    if name == SimulatedPhone.name:
        return SimulatedPhone()
    if name == "twilio" and twilio_configured():
        return TwilioPhone()
    raise PhoneError(f"The {name or 'unknown'} phone that placed this call is not configured.")
