"""Case templates in the admin: MDR staff manage them (the incident type, its recommendations, the actions it
proposes), and apply one to an incident from its page, which shows each target's decision."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse

from incidents.admin_response_actions import action_form_page
from incidents.case_templates import case_template_apply
from incidents.models import CaseTemplate, CaseTemplateAction, Incident
from mdrportal.core.users import SignedInRequest


class CaseTemplateActionInline(admin.TabularInline[CaseTemplateAction, CaseTemplate]):
    model = CaseTemplateAction
    fields = ["action_type", "observable_kind"]
    extra = 1


@admin.register(CaseTemplate)
class CaseTemplateAdmin(admin.ModelAdmin[CaseTemplate]):
    list_display = ["incident_type", "updated_at"]
    search_fields = ["incident_type", "recommendations"]
    inlines = [CaseTemplateActionInline]


class ApplyTemplateForm(forms.Form):
    template = forms.ModelChoiceField(
        queryset=CaseTemplate.objects.all(),
        help_text="Its recommendations are added to the case file; its actions are proposed for the "
        "incident's observables of their kind, each through the gate.",
    )


def may_apply(request: HttpRequest) -> bool:
    """Applying edits the case file and proposes actions: both permissions."""
    return request.user.has_perms(["incidents.change_incident", "incidents.add_responseaction"])


def apply_template_view(site: admin.AdminSite, request: SignedInRequest, pk: int) -> HttpResponse:
    if not may_apply(request):
        raise PermissionDenied
    incident = get_object_or_404(Incident.objects.select_related("tenant"), pk=pk)
    form = ApplyTemplateForm(request.POST or None)
    outcomes = None
    if request.method == "POST" and form.is_valid():
        try:
            applied = case_template_apply(
                incident=incident, template=form.cleaned_data["template"], by=request.user
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if not applied.outcomes:
                messages.success(
                    request, "Template applied: no observable of the incident feeds its actions yet."
                )
                return HttpResponseRedirect(reverse("admin:incidents_incident_change", args=[incident.pk]))
            outcomes = applied.outcomes
    title = f"Apply a case template to {incident}"
    return action_form_page(site, request, incident, form, title, outcomes=outcomes)
