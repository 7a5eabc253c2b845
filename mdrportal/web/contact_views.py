"""Customer pages for a tenant's contacts: admins add, change, order and test-call them, the other roles read
them with their hours."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from escalation.calls.test_calls import test_call_place
from escalation.selectors import last_test_calls
from mdrportal.core.users import SignedInRequest
from mdrportal.web import access
from mdrportal.web.access import ActingRequest, portal_page, tenant_page
from mdrportal.web.availability_forms import AvailabilityForm, availability_row
from mdrportal.web.deciding import decision_check
from mdrportal.web.refusals import add_service_errors, message_refusal
from mdrportal.web.tenant_forms import ContactForm
from tenants.availability import Availability
from tenants.availability_services import contact_availability_set
from tenants.deciding import CONTACT_ADD, CONTACT_CHANGE, Operation
from tenants.models import Contact, Tenant
from tenants.rules import ADMINISTERS, phoneable
from tenants.selectors import tenant_contacts, tenants_for_user
from tenants.services import contact_create, contact_update, contacts_reorder


@tenant_page()
def contacts_page(request: ActingRequest) -> HttpResponse:
    tenant = request.acting.tenant
    contacts = list(tenant_contacts(tenant).prefetch_related("windows", "away_periods"))
    tests = last_test_calls(contacts)
    now = timezone.now()
    return render(
        request,
        "pages/contacts.html",
        {
            "section": "contacts",
            "tenant": tenant,
            "contacts": contacts,
            "rows": [
                (contact, tests.get(contact.pk), availability_row(contact, tenant.timezone, now))
                for contact in contacts
            ],
            "phone_contacts": sum(1 for c in contacts if phoneable(c.active, c.phone, c.channels)),
        },
    )


def _tenant_contact(request: SignedInRequest, pk: int) -> tuple[Contact, Tenant]:
    """A contact of one of the user's tenants (else 404) and that tenant, entered as its admin (else 403)."""
    contact = get_object_or_404(
        Contact.objects.select_related("tenant").filter(tenant__in=tenants_for_user(request.user)), pk=pk
    )
    assert contact.tenant is not None  # looked up among the tenants' contacts (a partner's has no tenant)
    return contact, access.enter(request, contact.tenant, ADMINISTERS).tenant


def _contact_form_page(
    request: SignedInRequest,
    tenant: Tenant,
    form: ContactForm,
    hours: AvailabilityForm,
    contact: Contact | None,
    save: Callable[[dict[str, Any]], Contact],
    saved: str,
    operation: Operation,
) -> HttpResponse:
    """The contact form, new or existing: a valid POST saves the contact and its hours together."""
    if request.method == "POST" and all([form.is_valid(), hours.is_valid()]):
        changed = None
        if contact is not None:
            changed = [f for f, value in form.values().items() if getattr(contact, f) != value]
        refused = decision_check(
            request, tenant=tenant, operation=operation, back=request.path, changed=changed
        )
        if refused is not None:
            return refused
        try:
            with transaction.atomic():
                written = save(form.values())
                contact_availability_set(contact=written, by=request.user, **hours.values())
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, saved.format(name=written.name))
            return redirect("tenants:contacts")
    status = 400 if form.is_bound else 200
    context = {"section": "contacts", "form": form, "hours": hours, "contact": contact}
    return render(request, "pages/contact_form.html", context, status=status)


@tenant_page(ADMINISTERS)
def contact_add(request: ActingRequest) -> HttpResponse:
    tenant = request.acting.tenant
    form = ContactForm(request.POST or None)
    hours = AvailabilityForm(request.POST or None, zone=tenant.timezone)

    def save(values: dict[str, Any]) -> Contact:
        return contact_create(tenant=tenant, by=request.user, **values)

    added = "{name} added, called after the existing contacts."
    return _contact_form_page(request, tenant, form, hours, None, save, added, CONTACT_ADD)


@portal_page
def contact_edit(request: SignedInRequest, pk: int) -> HttpResponse:
    contact, tenant = _tenant_contact(request, pk)
    initial = {
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "can_authorize": contact.can_authorize,
        "channels": contact.channels,
    }
    form = ContactForm(request.POST or None, initial=initial)
    hours = AvailabilityForm(
        request.POST or None, zone=tenant.timezone, availability=Availability.of(contact)
    )

    def save(values: dict[str, Any]) -> Contact:
        return contact_update(contact=contact, by=request.user, **values)

    return _contact_form_page(request, tenant, form, hours, contact, save, "{name} saved.", CONTACT_CHANGE)


@require_POST
@portal_page
def contact_active(request: SignedInRequest, pk: int) -> HttpResponse:
    """Deactivate (or reactivate) a contact: kept for the record, no longer notified."""
    contact, tenant = _tenant_contact(request, pk)
    active = request.POST.get("active") == "1"
    refused = decision_check(
        request, tenant=tenant, operation=CONTACT_CHANGE, back="tenants:contacts", changed=["active"]
    )
    if refused is not None:
        return refused
    try:
        contact_update(contact=contact, by=request.user, active=active)
    except ValidationError as error:
        message_refusal(request, error)
    else:
        state = "reactivated: notified again" if active else "deactivated: no longer notified"
        messages.success(request, f"{contact.name} {state}.")
    return redirect("tenants:contacts")


@require_POST
@portal_page
def contact_move(request: SignedInRequest, pk: int) -> HttpResponse:
    """Move a contact one place up or down the call order."""
    contact, tenant = _tenant_contact(request, pk)
    # The call order alone decides nothing (tenants.deciding); the role is still the list's.
    decision_check(
        request,
        tenant=tenant,
        operation=CONTACT_CHANGE,
        back="tenants:contacts",
        changed=["call_order"],
    )
    direction = request.POST.get("direction")
    if direction not in ("up", "down"):
        return HttpResponseBadRequest("Say up or down.")
    order = list(tenant_contacts(tenant).values_list("pk", flat=True))
    here = order.index(contact.pk)
    there = here - 1 if direction == "up" else here + 1
    if 0 <= there < len(order):
        order[here], order[there] = order[there], order[here]
        try:
            contacts_reorder(tenant=tenant, by=request.user, ordered_ids=order)
        except ValidationError as error:
            message_refusal(request, error)
    return redirect("tenants:contacts")


@require_POST
@portal_page
def contact_test_call(request: SignedInRequest, pk: int) -> HttpResponse:
    """Phone the contact now, through the phone backend in use, to check that its number works."""
    contact, tenant = _tenant_contact(request, pk)
    try:
        call = test_call_place(contact=contact, by=request.user)
    except ValidationError as error:
        message_refusal(request, error)
    else:
        messages.success(
            request,
            f"Calling {contact.name} at {call.to}: pressing 1 confirms the call was heard. "
            "The outcome shows here once the call ends.",
        )
    return redirect("tenants:contacts")
