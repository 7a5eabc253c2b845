"""The partner's defaults page: its people read them, its admins change them for every customer that
delegated its settings and did not set them itself. Every default decides for those customers (what may be
done without asking them): a change needs a fresh second factor (tenants.deciding.PARTNER_DEFAULTS)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from incidents.models import ActionType
from mdrportal.core.users import SignedInRequest
from mdrportal.web.access import portal_page
from mdrportal.web.protected_views import ProtectedTargetForm
from mdrportal.web.refusals import add_service_errors, message_refusal
from mdrportal.web.second_factor import step_up_redirect
from tenants.deciding import PARTNER_DEFAULTS
from tenants.models import Partner, Performer, ResponseMode
from tenants.partner_default_models import PROTECTED_LIST, PartnerProtectedTarget, performer_field
from tenants.partner_defaults import (
    partner_default_set,
    partner_defaults_of,
    partner_inheriting,
    partner_of_user,
)
from tenants.partner_protected import partner_protected_add, partner_protected_of, partner_protected_remove


class PartnerDefaultsForm(forms.Form):
    """Each default, and who performs each action type; left empty, the partner sets none for it."""

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

    def __init__(self, *args: Any, action_types: list[ActionType], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for action_type in action_types:
            self.fields[performer_field(action_type.code)] = forms.ChoiceField(
                label=f"Performer: {action_type.name}",
                choices=[("", "—"), *Performer.choices],
                required=False,
            )

    def changes(self, current: dict[str, Any]) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
        return {k: v for k, v in data.items() if current.get(k) != v}


def _partner_for(request: SignedInRequest, slug: str) -> tuple[Partner, bool]:
    partner, is_admin = partner_of_user(request.user, slug)
    if partner is None:
        raise Http404("No such partner.")
    return partner, is_admin


@portal_page
def partner_defaults_page(request: SignedInRequest, slug: str) -> HttpResponse:
    partner, is_admin = _partner_for(request, slug)
    current = partner_defaults_of(partner)
    form = PartnerDefaultsForm(
        request.POST or None,
        initial={k: str(v).lower() if isinstance(v, bool) else v for k, v in current.items()},
        action_types=list(ActionType.objects.order_by("category", "name")),
    )
    if request.method == "POST":
        if not is_admin:
            raise PermissionDenied(f"Only {partner}'s admins set its defaults.")
        if form.is_valid():
            changes = form.changes(current)
            if changes and PARTNER_DEFAULTS.decides(changes):
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
        "inheriting": {f: partner_inheriting(partner=partner, field=f).count() for f in form.fields},
        "protected": partner_protected_of(partner),
        "protected_form": ProtectedTargetForm(),
        "protected_inheriting": partner_inheriting(partner=partner, field=PROTECTED_LIST).count(),
    }
    return render(request, "pages/partner_defaults.html", context, status=400 if form.errors else 200)


def _protected_write(request: SignedInRequest, slug: str) -> tuple[Partner, HttpResponse | None]:
    partner, is_admin = _partner_for(request, slug)
    if not is_admin:
        raise PermissionDenied(f"Only {partner}'s admins set its defaults.")
    return partner, step_up_redirect(request, reverse("partner_defaults", args=[slug]))


@require_POST
@portal_page
def partner_protected_add_page(request: SignedInRequest, slug: str) -> HttpResponse:
    partner, refused = _protected_write(request, slug)
    if refused is not None:
        return refused
    form = ProtectedTargetForm(request.POST)
    if not form.is_valid():
        message_refusal(request, ValidationError([e for errors in form.errors.values() for e in errors]))
        return redirect("partner_defaults", slug=slug)
    try:
        default = partner_protected_add(partner=partner, by=request.user, **form.cleaned_data)
    except ValidationError as error:
        message_refusal(request, error)
    else:
        messages.success(request, f"On {partner}'s list: {default}. Inheriting customers protect it now.")
    return redirect("partner_defaults", slug=slug)


@require_POST
@portal_page
def partner_protected_remove_page(request: SignedInRequest, slug: str, pk: int) -> HttpResponse:
    partner, refused = _protected_write(request, slug)
    default = get_object_or_404(PartnerProtectedTarget, pk=pk, partner=partner)
    if refused is not None:
        return refused
    partner_protected_remove(default=default, by=request.user)
    messages.success(request, f"Off {partner}'s list: {default}.")
    return redirect("partner_defaults", slug=slug)
