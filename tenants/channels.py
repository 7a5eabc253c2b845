"""The ways a contact chooses to be reached (voice, SMS, email), and the rule a list of them follows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import models

if TYPE_CHECKING:
    from tenants.models import Contact  # which validates its channels here


class ContactChannel(models.TextChoices):
    VOICE = "voice", "Phone call"
    SMS = "sms", "Text message (SMS)"
    EMAIL = "email", "Email"


DEFAULT_CHANNELS = (ContactChannel.VOICE, ContactChannel.EMAIL)
SMS_NEEDS_PHONE = "Text messages need a phone number: add one, or leave SMS out."


def default_channels() -> list[str]:
    return [str(channel) for channel in DEFAULT_CHANNELS]


def validate_channels(value: Any) -> None:
    """A list of known channels, each at most once, at least one."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError('Give the channels as a list, for example ["voice", "email"].', code="type")
    unknown = sorted(set(value) - set(ContactChannel.values))
    if unknown:
        known = ", ".join(ContactChannel.values)
        raise ValidationError(f"Unknown channel {', '.join(unknown)}: choose from {known}.", code="unknown")
    if len(value) != len(set(value)):
        raise ValidationError("Each channel can be chosen once.", code="duplicate")
    if not value:
        raise ValidationError("Choose at least one channel.", code="empty")


def check_channels_reachable(*, channels: list[str], phone: object) -> None:
    """SMS goes to the contact's phone number: without one, it cannot be chosen."""
    if ContactChannel.SMS in channels and not phone:
        raise ValidationError({"channels": SMS_NEEDS_PHONE}, code="sms_needs_phone")


def takes(channels: object, channel: str) -> bool:
    """Whether a contact's chosen channels hold this one; anything but a list of them means the defaults."""
    chosen = channels if isinstance(channels, list) else default_channels()
    return channel in chosen


def wants(contact: Contact, channel: str) -> bool:
    """Whether the contact chose this channel; a contact without a valid choice gets the defaults."""
    return takes(contact.channels, channel)
