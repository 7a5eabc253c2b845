"""Start-up checks of the text message settings: a half-configured sender fails loudly, not silently."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.checks import Error, register

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")


@register("mdr")
def check_sms_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    sender = settings.TWILIO_MESSAGING_FROM
    service = settings.TWILIO_MESSAGING_SERVICE_SID
    errors = []
    if sender and service:
        errors.append(
            Error(
                "TWILIO_MESSAGING_FROM and TWILIO_MESSAGING_SERVICE_SID are both set: texts would go from the "
                "messaging service, not the number.",
                hint="Set only one of them.",
                id="escalation.E001",
            )
        )
    if (sender or service) and not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
        errors.append(
            Error(
                "A Twilio messaging sender is set without TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN: texts "
                "would only be simulated.",
                hint="Set the account's credentials, or unset the sender.",
                id="escalation.E002",
            )
        )
    if sender and not E164.fullmatch(sender):
        errors.append(
            Error(
                f"TWILIO_MESSAGING_FROM={sender!r} is not a number in E.164.",
                hint="For example +12025550100.",
                id="escalation.E003",
            )
        )
    if service and not SERVICE_SID.fullmatch(service):
        errors.append(
            Error(
                f"TWILIO_MESSAGING_SERVICE_SID={service!r} is not a messaging service sid.",
                hint="It starts with MG and 32 hexadecimal digits.",
                id="escalation.E004",
            )
        )
    return errors
