"""Start-up checks of the text message settings: a half-configured sender fails loudly, not silently."""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, register

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")


@register("mdr")
def check_sms_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[Error]:
    sender = settings.TWILIO_MESSAGING_FROM
    service = settings.TWILIO_MESSAGING_SERVICE_SID
    credentials = settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN
    # (what is wrong, the message, the hint, the check's id)
    problems = [
        (
            sender and service,
            "TWILIO_MESSAGING_FROM and TWILIO_MESSAGING_SERVICE_SID are both set: texts would go from the "
            "messaging service, not the number.",
            "Set only one of them.",
            "escalation.E001",
        ),
        (
            (sender or service) and not credentials,
            "A Twilio messaging sender is set without TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN: texts "
            "would only be simulated.",
            "Set the account's credentials, or unset the sender.",
            "escalation.E002",
        ),
        (
            sender and not E164.fullmatch(sender),
            f"TWILIO_MESSAGING_FROM={sender!r} is not a number in E.164.",
            "For example +12025550100.",
            "escalation.E003",
        ),
        (
            service and not SERVICE_SID.fullmatch(service),
            f"TWILIO_MESSAGING_SERVICE_SID={service!r} is not a messaging service sid.",
            "It starts with MG and 32 hexadecimal digits.",
            "escalation.E004",
        ),
    ]
    return [Error(message, hint=hint, id=check) for wrong, message, hint, check in problems if wrong]
