"""The partner's console: the customers it serves with their counts, their incidents in one list and the
tasks given to the partner across them. A partner is looked up among the user's (MDR staff: any), so another
partner's console is a 404, as its defaults page is; each row opens the customer's own incident page."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from incidents.partner_console import (
    partner_incidents,
    partner_tasks,
    served_customers,
    served_customers_with_counts,
)
from mdrportal.core.pagination import (
    CustomerIncidentPages,
    PartnerCustomerPages,
    PartnerTaskPages,
    keyset_page,
)
from mdrportal.core.users import SignedInRequest
from mdrportal.web.access import portal_page
from mdrportal.web.incident_views import StatusFilters
from tenants.models import Partner, Tenant
from tenants.partner_defaults import partner_of_user
from tenants.selectors import partners_for_user


class ConsoleIncidentFilters(StatusFilters):
    """The incident list's filters but its dates, with the customer and whether analysts were flagged."""

    customer: forms.ModelChoiceField[Tenant] = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="Every customer"
    )
    needs_attention = forms.TypedChoiceField(
        label="Needs attention",
        choices=[("", "Either"), ("yes", "Flagged for analysts"), ("no", "Not flagged")],
        coerce=lambda v: v == "yes",
        empty_value=None,
        required=False,
    )
    field_order = ["customer", "status", "severity", "needs_attention"]

    def __init__(self, *args: Any, partner: Partner, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The form's own copy of the field declared above.
        cast("forms.ModelChoiceField[Tenant]", self.fields["customer"]).queryset = served_customers(partner)


def _partner(request: SignedInRequest, slug: str) -> Partner:
    partner, _ = partner_of_user(request.user, slug)
    if partner is None:
        raise Http404("No such partner.")
    return partner


@portal_page
def partner_consoles(request: SignedInRequest) -> HttpResponse:
    """The way in from the navigation: the user's one partner console, or the list of them."""
    partners = list(partners_for_user(request.user)[:2])
    if not partners:
        raise Http404("Your account belongs to no partner.")
    if len(partners) == 1:
        return redirect("partner_console", slug=partners[0].slug)
    return render(request, "pages/console_partners.html", {"partners": partners_for_user(request.user)})


@portal_page
def partner_console(request: SignedInRequest, slug: str) -> HttpResponse:
    """The customers the partner serves, each with what is active, waiting or flagged and the partner's tasks."""
    partner = _partner(request, slug)
    page = keyset_page(PartnerCustomerPages(), served_customers_with_counts(partner), request)
    return render(request, "pages/console.html", {"partner": partner, "page": page, "tab": "customers"})


@portal_page
def partner_console_incidents(request: SignedInRequest, slug: str) -> HttpResponse:
    """Every incident of the partner's customers, newest first, with the customer and filters."""
    partner = _partner(request, slug)
    filters = ConsoleIncidentFilters(request.GET or None, partner=partner)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    incidents = partner_incidents(
        partner,
        tenant=chosen.get("customer"),
        status=chosen.get("status", ""),
        severity=chosen.get("severity", ""),
        needs_attention=chosen.get("needs_attention"),
    )
    page = keyset_page(CustomerIncidentPages(), incidents, request)
    context = {"partner": partner, "page": page, "filters": filters, "tab": "incidents"}
    return render(request, "pages/console_incidents.html", context, status=400 if filters.errors else 200)


@portal_page
def partner_console_tasks(request: SignedInRequest, slug: str) -> HttpResponse:
    """The tasks the partner performs across its customers, open ones first."""
    partner = _partner(request, slug)
    page = keyset_page(PartnerTaskPages(), partner_tasks(partner), request)
    return render(request, "pages/console_tasks.html", {"partner": partner, "page": page, "tab": "tasks"})
