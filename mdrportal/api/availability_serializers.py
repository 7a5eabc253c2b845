"""A contact's availability in the API: weekly windows and away periods, each list replaced as a whole."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from mdrportal.api.nested import WholeObjectSerializer
from tenants.availability import Availability, Away, Window
from tenants.availability_services import contact_availability_set
from tenants.models import Contact
from tenants.services import Actor


class AvailabilityWindowSerializer(WholeObjectSerializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="0 is Monday, 6 is Sunday.")
    starts = serializers.TimeField(help_text="Wall-clock time in the tenant's time zone, for example 08:00.")
    ends = serializers.TimeField(
        help_text="At or before `starts`, the window ends the next day (22:00 to 06:00 crosses midnight; "
        "00:00 to 00:00 is the whole day)."
    )


class AwayPeriodSerializer(WholeObjectSerializer):
    starts_at = serializers.DateTimeField(help_text="When the absence starts (ISO 8601 with an offset).")
    ends_at = serializers.DateTimeField(help_text="When it ends; the contact is phoned again from then.")
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data["ends_at"] <= data["starts_at"]:
            raise serializers.ValidationError({"ends_at": "An away period must end after it starts."})
        return data


WINDOWS_HELP = (
    "When the contact may be phoned, in the tenant's time zone; empty: at any time. A change replaces the "
    "whole list. Emails are sent whatever the windows say."
)
AWAY_HELP = (
    "When the contact is away and not phoned, whatever the windows say. A change replaces the whole list."
)


def availability_fields() -> dict[str, serializers.Field[Any, Any, Any, Any]]:
    return {
        "windows": AvailabilityWindowSerializer(many=True, required=False, help_text=WINDOWS_HELP),
        "away_periods": AwayPeriodSerializer(many=True, required=False, help_text=AWAY_HELP),
    }


def availability_apply(contact: Contact, fields: dict[str, Any], *, by: Actor) -> None:
    """Take `windows` and `away_periods` out of validated fields and write them, keeping the list not given."""
    windows, away = fields.pop("windows", None), fields.pop("away_periods", None)
    if windows is None and away is None:
        return
    current = Availability.of(contact)
    contact_availability_set(
        contact=contact,
        by=by,
        windows=current.windows if windows is None else [Window(**w) for w in windows],
        away=current.away if away is None else [Away(**a) for a in away],
    )
