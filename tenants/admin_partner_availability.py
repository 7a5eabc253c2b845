"""The admin's partner page: each partner contact's hours and away dates, edited there in the partner's time
zone and written through the one availability service (tenants.availability_services)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms import BaseModelFormSet, ModelForm

from mdrportal.core.users import User
from tenants.availability import Availability, Away, Window
from tenants.availability_services import contact_availability_set
from tenants.availability_text import away_format, away_parse, windows_format, windows_parse
from tenants.forms import ContactInlineForm
from tenants.models import Contact

HOURS_HELP = (
    "In the partner's time zone ({zone}), one line each: Mon-Fri 08:00-18:00. Empty: phoned at any hour."
)
AWAY_HELP = "One line each: 2026-12-21 until 2027-01-03 Holiday, or 2026-12-21 18:00 until 2026-12-22 08:00."


class PartnerContactForm(ContactInlineForm):
    """A partner's contact, with when the partner's call tree may phone them."""

    windows = forms.CharField(required=False, label="Hours", widget=forms.Textarea(attrs={"rows": 2}))
    away = forms.CharField(required=False, label="Away", widget=forms.Textarea(attrs={"rows": 2}))
    zone = "UTC"  # the partner's, set by the inline for the page's partner

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            shown = Availability.of(self.instance)
            self.fields["windows"].initial = windows_format(shown.windows)
            self.fields["away"].initial = away_format(shown.away, self.zone)
        self.fields["windows"].help_text = HOURS_HELP.format(zone=self.zone)
        self.fields["away"].help_text = AWAY_HELP

    def clean_windows(self) -> list[Window]:
        return windows_parse(self.cleaned_data["windows"])

    def clean_away(self) -> list[Away]:
        return away_parse(self.cleaned_data["away"], self.zone)


def partner_contact_form(zone: str) -> type[PartnerContactForm]:
    """The form reading hours and dates in this partner's time zone."""
    return type("PartnerContactFormIn", (PartnerContactForm,), {"zone": zone})


def partner_availability_save(*, by: User, formset: BaseModelFormSet[Contact, ModelForm[Contact]]) -> None:
    """The hours and away dates changed on the page, once the contacts themselves are saved."""
    for form in formset.forms:
        if not form.cleaned_data or form.instance.pk is None:
            continue
        if {"windows", "away"} & set(form.changed_data):
            contact_availability_set(
                contact=form.instance,
                by=by,
                windows=form.cleaned_data["windows"],
                away=form.cleaned_data["away"],
            )
