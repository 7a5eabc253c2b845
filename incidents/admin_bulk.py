"""The admin's bulk proposal page: one action type for many targets (pasted, or the incident's observables
of a kind), each through the gate, and a page that shows each target's decision."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404

from incidents.admin_response_actions import action_form_page
from incidents.bulk import BULK_MAX, actions_propose_many, bulk_targets, observables_of_kind
from incidents.models import ActionType, Incident, ObservableKind
from mdrportal.core.users import SignedInRequest


class BulkProposeForm(forms.Form):
    action_type = forms.ModelChoiceField(queryset=ActionType.objects.order_by("category", "name"))
    targets = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=f"One target per line (or separated by commas); at most {BULK_MAX}.",
    )
    observables = forms.ChoiceField(
        required=False,
        choices=[("", "—"), *ObservableKind.choices],
        help_text="And every observable of this kind the incident holds.",
    )

    def __init__(self, *args: Any, incident: Incident, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.incident = incident

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        data["held"] = observables_of_kind(self.incident, data.get("observables"))
        data["target_list"] = bulk_targets(data.get("targets", ""), *data["held"])
        if not data["target_list"]:
            raise ValidationError("Paste targets or choose a kind of observable the incident holds.")
        if len(data["target_list"]) > BULK_MAX:
            raise ValidationError(f"At most {BULK_MAX} targets at once.")
        return data


def bulk_propose_view(site: admin.AdminSite, request: SignedInRequest, pk: int) -> HttpResponse:
    if not request.user.has_perm("incidents.add_responseaction"):
        raise PermissionDenied
    incident = get_object_or_404(Incident.objects.select_related("tenant"), pk=pk)
    form = BulkProposeForm(request.POST or None, incident=incident)
    outcomes = None
    if request.method == "POST" and form.is_valid():
        outcomes = actions_propose_many(
            incident=incident,
            action_type=form.cleaned_data["action_type"],
            targets=form.cleaned_data["target_list"],
            by=request.user,
            observables=form.cleaned_data["held"],
        )
    title = f"Propose one action for many targets on {incident}"
    return action_form_page(site, request, incident, form, title, outcomes=outcomes)
