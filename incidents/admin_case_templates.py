"""Case templates in the admin: MDR staff manage them (the incident type, its recommendations, the actions it
proposes, each checked by the service's rule), and apply one to an incident from its page, which shows each
target's decision and what was already there."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse

from incidents.admin_response_actions import action_form_page
from incidents.case_templates import TemplateApplied, case_template_action_check, case_template_apply
from incidents.models import CaseTemplate, CaseTemplateAction, Incident
from mdrportal.core.users import SignedInRequest


class CaseTemplateActionForm(forms.ModelForm[CaseTemplateAction]):
    """One action of a template: refused, as a form error, when the service's rule refuses it."""

    class Meta:
        model = CaseTemplateAction
        fields = ["action_type", "observable_kind"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        action_type, kind = data.get("action_type"), data.get("observable_kind")
        if action_type is not None and kind:
            try:
                case_template_action_check(action_type=action_type, observable_kind=kind)
            except ValidationError as error:
                self.add_error(None, error)
        return data


class CaseTemplateActionInline(admin.TabularInline[CaseTemplateAction, CaseTemplate]):
    model = CaseTemplateAction
    form = CaseTemplateActionForm
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


def applied_message(applied: TemplateApplied) -> str:
    """What applying did, in a sentence: proposed, already there, and whether the recommendations changed."""
    proposed = sum(1 for outcome in applied.outcomes if outcome.action is not None)
    refused = len(applied.outcomes) - proposed
    parts = [f"{proposed} action{'s' if proposed != 1 else ''} proposed"]
    if applied.skipped:
        parts.append(f"{len(applied.skipped)} already there, not proposed again")
    if refused:
        parts.append(f"{refused} refused")
    told = "recommendations added to the case file" if applied.changed else "its recommendations were there"
    return f"Template applied: {'; '.join(parts)}; {told}."


def apply_template_view(site: admin.AdminSite, request: SignedInRequest, pk: int) -> HttpResponse:
    if not may_apply(request):
        raise PermissionDenied
    incident = get_object_or_404(Incident.objects.select_related("tenant"), pk=pk)
    form = ApplyTemplateForm(request.POST or None)
    applied = None
    if request.method == "POST" and form.is_valid():
        try:
            applied = case_template_apply(
                incident=incident, template=form.cleaned_data["template"], by=request.user
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if not applied.outcomes and not applied.skipped:
                messages.success(
                    request, "Template applied: no observable of the incident feeds its actions yet."
                )
                return HttpResponseRedirect(reverse("admin:incidents_incident_change", args=[incident.pk]))
            messages.info(request, applied_message(applied))
    title = f"Apply a case template to {incident}"
    return action_form_page(
        site,
        request,
        incident,
        form,
        title,
        outcomes=applied.outcomes if applied else None,
        skipped=applied.skipped if applied else None,
    )
