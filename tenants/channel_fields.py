"""The channels as a form field, and the SMS-needs-a-phone rule on a form: shared by the page and the admin."""

from __future__ import annotations

from typing import Any

from django import forms

from tenants.channels import SMS_NEEDS_PHONE, ContactChannel, default_channels


def channels_field(**kwargs: Any) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        choices=ContactChannel.choices,
        initial=default_channels,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one way to reach this contact."},
        **kwargs,
    )


def check_channels_on_form(form: forms.BaseForm, data: dict[str, Any]) -> None:
    """Text messages need the phone number the form holds (unless that number is already in error)."""
    if (
        ContactChannel.SMS in data.get("channels", [])
        and not data.get("phone")
        and "phone" not in form.errors
    ):
        form.add_error("channels", SMS_NEEDS_PHONE)
