"""The admin page of partners' defaults: MDR staff allowed to change partners set one through the service, so
it reaches every inheriting customer with its history row; saving needs a recent second factor."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms import ModelForm
from django.http import HttpRequest

from mdrportal.core.users import signed_in_user
from mdrportal.web.deciding import StepUpAdminMixin
from tenants.deciding import PARTNER_DEFAULTS
from tenants.models import Partner
from tenants.partner_default_models import PartnerDefault
from tenants.partner_defaults import default_clean, partner_default_set


class _TriedOnly(Exception):
    """Undoes a change that was only tried."""


class PartnerDefaultForm(ModelForm[PartnerDefault]):
    request: HttpRequest | None = None

    class Meta:
        model = PartnerDefault
        fields = ["partner", "field", "value"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        field = data.get("field") or getattr(self.instance, "field", "")
        if field and "value" in data:
            try:
                data["value"] = default_clean(field, data["value"])
            except ValidationError as error:
                raise ValidationError(error.messages) from None
            partner = data.get("partner") or getattr(self.instance, "partner", None)
            if partner is not None and self.request is not None:
                self._try(partner, field, data["value"])
        return data

    def _try(self, partner: Partner, field: str, value: Any) -> None:
        """The admin saves after the form is valid, where a refusal could only be a server error: a customer
        that cannot take the default (the fallback box without a phone contact) is found here, by applying the
        change and undoing it (what it would have sent after commit is dropped with it)."""
        assert self.request is not None
        try:
            with transaction.atomic():
                partner_default_set(
                    partner=partner, by=signed_in_user(self.request), field=field, value=value
                )
                raise _TriedOnly
        except _TriedOnly:
            pass
        except ValidationError as error:
            raise ValidationError(error.messages) from None


@admin.register(PartnerDefault)
class PartnerDefaultAdmin(StepUpAdminMixin, admin.ModelAdmin[PartnerDefault]):
    list_display = ["partner", "field", "value"]
    list_select_related = ["partner"]
    fields = ["partner", "field", "value"]
    form = PartnerDefaultForm

    def _allowed(self, request: HttpRequest) -> bool:
        return bool(PARTNER_DEFAULTS.staff_perm and request.user.has_perm(PARTNER_DEFAULTS.staff_perm))

    def has_view_permission(self, request: HttpRequest, obj: PartnerDefault | None = None) -> bool:
        return self._allowed(request) or super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: PartnerDefault | None = None) -> bool:
        return self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: PartnerDefault | None = None) -> bool:
        return False  # a default is changed, never dropped: customers already hold its value

    def get_form(
        self, request: HttpRequest, obj: PartnerDefault | None = None, change: bool = False, **kwargs: Any
    ) -> type[ModelForm[PartnerDefault]]:
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"request": request})

    def get_readonly_fields(self, request: HttpRequest, obj: PartnerDefault | None = None) -> list[str]:
        return ["partner", "field"] if obj is not None else []

    def save_model(
        self, request: HttpRequest, obj: PartnerDefault, form: PartnerDefaultForm, change: bool
    ) -> None:
        partner_default_set(partner=obj.partner, by=signed_in_user(request), field=obj.field, value=obj.value)
        obj.pk = PartnerDefault.objects.get(partner=obj.partner, field=obj.field).pk
