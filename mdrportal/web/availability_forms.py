"""The contacts page's availability fields: weekly windows and away periods, one per line."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms

from tenants.availability import Availability, Away, Window
from tenants.availability_text import away_format, away_parse, windows_format, windows_parse
from tenants.models import Contact

WINDOWS_HELP = (
    "When this contact may be phoned, in your time zone ({zone}), one line each: Mon-Fri 08:00-18:00, "
    "Sat 22:00-06:00 (ends the next morning). Leave empty to phone this contact at any hour."
)
AWAY_HELP = (
    "When this contact is away and not phoned, one line each: 2026-12-21 until 2027-01-03 Holiday (whole "
    "days, the last one included), or 2026-12-21 18:00 until 2026-12-22 08:00."
)


class AvailabilityForm(forms.Form):
    """When a contact may be phoned; emails still reach every active contact."""

    windows = forms.CharField(
        required=False,
        label="Phone this contact only at these hours",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    away = forms.CharField(required=False, label="Away", widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(
        self, *args: Any, zone: str, availability: Availability | None = None, **kwargs: Any
    ) -> None:
        if availability is not None:
            kwargs.setdefault(
                "initial",
                {
                    "windows": windows_format(availability.windows),
                    "away": away_format(availability.away, zone),
                },
            )
        super().__init__(*args, **kwargs)
        self.zone = zone
        self.fields["windows"].help_text = WINDOWS_HELP.format(zone=zone)
        self.fields["away"].help_text = AWAY_HELP

    def clean_windows(self) -> list[Window]:
        return windows_parse(self.cleaned_data["windows"])

    def clean_away(self) -> list[Away]:
        return away_parse(self.cleaned_data["away"], self.zone)

    def values(self) -> dict[str, Any]:
        return {"windows": self.cleaned_data["windows"], "away": self.cleaned_data["away"]}


def availability_row(contact: Contact, zone: str, now: datetime) -> dict[str, str]:
    """What the contacts page shows of a contact's availability (windows and away_periods prefetched)."""
    availability = Availability.of(contact)
    return {
        "windows": windows_format(availability.windows).replace("\n", ", ") or "any time",
        "away": away_format(availability.away, zone).replace("\n", "; "),
        "now": availability.why_not(now, zone),
    }
