"""The monthly report's forms on the recipients pages: an address to add (one of the tenant's or the
partner's contacts or users, or another), and the month to send again."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model

from tenants.models import Contact, Partner, Tenant


def known_addresses(tenant: Tenant) -> list[str]:
    """The email addresses of the tenant's contacts and of its own users, each once, sorted."""
    contacts = Contact.objects.filter(tenant=tenant).exclude(email="").values_list("email", flat=True)
    users = (
        get_user_model()
        .objects.filter(memberships__tenant=tenant, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    return sorted({*contacts, *users}, key=str.lower)


def known_partner_addresses(partner: Partner) -> list[str]:
    """The email addresses of the partner's own contacts and people, each once, sorted."""
    contacts = Contact.objects.filter(partner=partner).exclude(email="").values_list("email", flat=True)
    users = (
        get_user_model()
        .objects.filter(partner_memberships__partner=partner, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    return sorted({*contacts, *users}, key=str.lower)


class RecipientForm(forms.Form):
    """One address: picked among the tenant's (or partner's) contacts and users, or typed."""

    known = forms.ChoiceField(label="A contact or user", required=False)
    email = forms.EmailField(label="Or another address", required=False)

    def __init__(
        self, *args: Any, tenant: Tenant | None = None, partner: Partner | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        known = cast(forms.ChoiceField, self.fields["known"])  # the field declared above
        addresses = known_addresses(tenant) if tenant is not None else []
        if partner is not None:
            addresses = known_partner_addresses(partner)
        known.choices = [("", "—"), *((a, a) for a in addresses)]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        known, typed = data.get("known"), data.get("email")
        if bool(known) == bool(typed) and "email" not in self.errors:
            raise forms.ValidationError("Pick a contact or user, or type an address (one of them).")
        data["address"] = known or typed
        return data


class MonthField(forms.CharField):
    """A month as the browser's month input gives it (2026-02): its first day."""

    widget = forms.TextInput(attrs={"type": "month"})

    def to_python(self, value: Any) -> date | None:  # type: ignore[override]  # a month cleans to its first day
        value = super().to_python(value)
        if not value:
            return None
        try:
            year, month = (int(part) for part in value.split("-"))
            return date(year, month, 1)
        except ValueError:
            raise forms.ValidationError("Give a month as YYYY-MM.") from None


class ResendForm(forms.Form):
    period = MonthField(label="Month")
