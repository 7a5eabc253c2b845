"""Forms for tenants' settings and contacts that apply the same rules as the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from tenants.channel_fields import channels_field, check_channels_on_form
from tenants.models import ActionPerformer, Contact, Partner, Performer, Tenant
from tenants.rules import FALLBACK_NEEDS_PHONE, LAST_PHONE_CONTACT, check_fallback_reachable

NO_PARTNER = "This tenant has no partner to delegate to: choose a partner for the tenant first."


class ContactInlineForm(forms.ModelForm[Contact]):
    position = forms.IntegerField(
        min_value=1, required=False, help_text="Call order; leave empty to call this contact last."
    )
    channels = channels_field()

    class Meta:
        model = Contact
        fields = ["position", "name", "email", "phone", "channels", "can_authorize", "active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["position"].initial = self.instance.call_order

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what ModelForm.clean returns
        check_channels_on_form(self, data)
        return data


class ContactInlineFormSet(forms.BaseInlineFormSet[Contact, Tenant | Partner, forms.ModelForm[Contact]]):
    """Checks the whole set as it will be after saving: unique positions and the fallback's phone rule."""

    def clean(self) -> None:
        super().clean()
        kept = [f for f in self.forms if f.is_valid() and f.cleaned_data and not f.cleaned_data.get("DELETE")]
        positions = [f.cleaned_data["position"] for f in kept if f.cleaned_data.get("position")]
        if len(positions) != len(set(positions)):
            raise ValidationError("Two contacts cannot have the same place in the call order.")
        if isinstance(self.instance, Tenant) and self.instance.authorize_on_no_ack:
            try:
                check_fallback_reachable(
                    authorize_on_no_ack=True,
                    contacts=[
                        (
                            bool(f.cleaned_data.get("active")),
                            f.cleaned_data.get("phone"),
                            f.cleaned_data.get("channels"),
                        )
                        for f in kept
                    ],
                    message=FALLBACK_NEEDS_PHONE,
                )
            except ValidationError:
                if not self._fallback_already_on():
                    raise
                # The fallback stays on: the change to the contacts is what is refused, say so.
                raise ValidationError(LAST_PHONE_CONTACT, code="fallback_needs_phone") from None

    def _fallback_already_on(self) -> bool:
        tenant = self.instance
        return (
            tenant.pk is not None and Tenant.objects.filter(pk=tenant.pk, authorize_on_no_ack=True).exists()
        )


class ActionPerformerFormSet(
    forms.BaseInlineFormSet[ActionPerformer, Tenant, forms.ModelForm[ActionPerformer]]
):
    """Refuses a partner as performer while the tenant (as it will be saved) has no partner."""

    def clean(self) -> None:
        super().clean()
        if self.instance.partner_id is not None:
            return
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if data.get("performer") == Performer.PARTNER and not data.get("DELETE"):
                form.add_error("performer", NO_PARTNER)
