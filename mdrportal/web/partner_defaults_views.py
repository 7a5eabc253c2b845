"""The partner's defaults page: its people read them, its admins change them for every customer that
delegated its settings and did not set them itself. A default of the mode or the checkbox decides for those
customers: it needs a fresh second factor, as the customer's own settings page does."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from mdrportal.web.access import portal_page
from mdrportal.web.refusals import add_service_errors
from mdrportal.web.second_factor import step_up_redirect
from tenants.models import Partner, ResponseMode
from tenants.partner_defaults import (
    partner_default_set,
    partner_defaults_of,
    partner_inheriting,
    partner_of_user,
)

DECIDING_DEFAULTS = {"response_mode", "authorize_on_no_ack"}


class PartnerDefaultsForm(forms.Form):
    """Each default; left empty, the partner sets none for it."""

    response_mode = forms.ChoiceField(choices=[("", "—"), *ResponseMode.choices], required=False)
    authorize_on_no_ack = forms.TypedChoiceField(
        label="Act as in Authorize mode when nobody acknowledges",
        choices=[("", "—"), ("true", "yes"), ("false", "no")],
        coerce=lambda v: v == "true",
        empty_value=None,
        required=False,
    )
    reminder_minutes = forms.IntegerField(min_value=1, max_value=1440, required=False)
    reminder_count = forms.IntegerField(min_value=1, max_value=20, required=False)

    def changes(self, current: dict[str, Any]) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
        return {k: v for k, v in data.items() if current.get(k) != v}


def _partner_for(request: HttpRequest, slug: str) -> tuple[Partner, bool]:
    partner, is_admin = partner_of_user(request.user, slug)
    if partner is None:
        raise Http404("No such partner.")
    return partner, is_admin


@portal_page
def partner_defaults_page(request: HttpRequest, slug: str) -> HttpResponse:
    partner, is_admin = _partner_for(request, slug)
    current = partner_defaults_of(partner)
    form = PartnerDefaultsForm(
        request.POST or None,
        initial={k: str(v).lower() if isinstance(v, bool) else v for k, v in current.items()},
    )
    if request.method == "POST":
        if not is_admin:
            raise PermissionDenied(f"Only {partner}'s admins set its defaults.")
        if form.is_valid():
            changes = form.changes(current)
            if DECIDING_DEFAULTS & set(changes):
                refused = step_up_redirect(request, request.path)
                if refused is not None:
                    return refused
            try:
                reached = {
                    field: partner_default_set(partner=partner, by=request.user, field=field, value=value)
                    for field, value in changes.items()
                }
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                customers = {t.pk for tenants in reached.values() for t in tenants}
                messages.success(
                    request, f"Defaults saved ({len(changes)} changed, {len(customers)} customers reached)."
                )
                return redirect("partner_defaults", slug=partner.slug)
    context = {
        "partner": partner,
        "form": form,
        "editable": is_admin,
        "inheriting": {
            f: partner_inheriting(partner=partner, field=f).count() for f in PartnerDefaultsForm.base_fields
        },
    }
    return render(request, "pages/partner_defaults.html", context, status=400 if form.errors else 200)
