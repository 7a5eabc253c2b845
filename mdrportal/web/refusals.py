"""How a customer page shows what a service refused: on the form being filled, or as messages on the page
the user is sent back to."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest


def add_service_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Show a service's ValidationError on the form: on its field when the form has it, else on top."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def message_refusal(request: HttpRequest, error: ValidationError) -> None:
    """Say each reason a service gave for refusing, on the next page shown."""
    for message in error.messages:
        messages.error(request, message)
