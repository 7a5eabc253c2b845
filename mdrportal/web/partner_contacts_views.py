"""The partner's contacts page: its people read when its call tree may phone each of its contacts; its admins
(and MDR staff) change each contact's hours and away dates, on the partner's clock, through the one
availability service."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from mdrportal.core.users import SignedInRequest
from mdrportal.web.access import portal_page
from mdrportal.web.availability_forms import AvailabilityForm, availability_row
from mdrportal.web.refusals import add_service_errors
from tenants.availability import Availability
from tenants.availability_services import contact_availability_set
from tenants.models import Contact, Partner
from tenants.partner_defaults import partner_of_user


def _partner_for(request: SignedInRequest, slug: str) -> tuple[Partner, bool]:
    partner, is_admin = partner_of_user(request.user, slug)
    if partner is None:
        raise Http404("No such partner.")
    return partner, is_admin


def _page(
    request: SignedInRequest,
    partner: Partner,
    is_admin: bool,
    failed: tuple[int, AvailabilityForm] | None = None,
) -> HttpResponse:
    now = timezone.now()
    rows = []
    for contact in partner.contacts.order_by("call_order").prefetch_related("windows", "away_periods"):
        form = failed[1] if failed and failed[0] == contact.pk else None
        if form is None and is_admin:
            form = AvailabilityForm(
                zone=partner.timezone, availability=Availability.of(contact), prefix=f"c{contact.pk}"
            )
        rows.append(
            {"contact": contact, "shown": availability_row(contact, partner.timezone, now), "form": form}
        )
    context = {"partner": partner, "rows": rows, "editable": is_admin}
    return render(request, "pages/partner_contacts.html", context, status=400 if failed else 200)


@portal_page
def partner_contacts_page(request: SignedInRequest, slug: str) -> HttpResponse:
    partner, is_admin = _partner_for(request, slug)
    return _page(request, partner, is_admin)


@require_POST
@portal_page
def partner_contact_availability_page(request: SignedInRequest, slug: str, pk: int) -> HttpResponse:
    partner, is_admin = _partner_for(request, slug)
    contact = get_object_or_404(Contact, pk=pk, partner=partner)
    if not is_admin:
        raise PermissionDenied(f"Only {partner}'s admins set when its contacts are phoned.")
    form = AvailabilityForm(request.POST, zone=partner.timezone, prefix=f"c{contact.pk}")
    if form.is_valid():
        try:
            contact_availability_set(contact=contact, by=request.user, **form.values())
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request, f"When {contact.name} is phoned: saved. Calls under way keep their plan."
            )
            return redirect("partner_contacts", slug=partner.slug)
    return _page(request, partner, is_admin, failed=(contact.pk, form))
