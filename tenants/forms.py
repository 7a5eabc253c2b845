"""Forms for tenants' settings and contacts that apply the same rules as the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from tenants.models import Contact
from tenants.rules import FALLBACK_NEEDS_PHONE, check_fallback_reachable


class ContactInlineForm(forms.ModelForm):
    position = forms.IntegerField(
        min_value=1, required=False, help_text="Call order; leave empty to call this contact last."
    )

    class Meta:
        model = Contact
        fields = ["position", "name", "email", "phone", "can_authorize", "active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["position"].initial = self.instance.call_order


class ContactInlineFormSet(forms.BaseInlineFormSet):
    """Checks the whole set as it will be after saving: unique positions and the fallback's phone rule."""

    def clean(self) -> None:
        super().clean()
        kept = [f for f in self.forms if f.is_valid() and f.cleaned_data and not f.cleaned_data.get("DELETE")]
        positions = [f.cleaned_data["position"] for f in kept if f.cleaned_data.get("position")]
        if len(positions) != len(set(positions)):
            raise ValidationError("Two contacts cannot have the same place in the call order.")
        if getattr(self.instance, "authorize_on_no_ack", False):
            check_fallback_reachable(
                authorize_on_no_ack=True,
                contacts=[(f.cleaned_data.get("active"), f.cleaned_data.get("phone")) for f in kept],
                message=FALLBACK_NEEDS_PHONE,
            )
