"""Twilio's X-Twilio-Signature on a webhook, checked against the address rebuilt from PUBLIC_BASE_URL."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest
from twilio.request_validator import RequestValidator

from mdrportal.core.metrics import WEBHOOK_SIGNATURE_FAILURES

log = logging.getLogger(__name__)


def twilio_signed(request: HttpRequest) -> bool:
    """True when Twilio signed this request: the signature covers our public address (never the Host
    header) and the posted form. A missing or wrong signature is logged and counted."""
    url = settings.PUBLIC_BASE_URL + request.get_full_path()
    signature = request.headers.get("X-Twilio-Signature", "")
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    if signature and validator.validate(url, request.POST, signature):
        return True
    log.warning("Twilio webhook refused: bad or missing signature for %s", request.path)
    WEBHOOK_SIGNATURE_FAILURES.labels(provider="twilio").inc()
    return False
