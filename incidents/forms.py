"""Forms analysts fill in the admin: proposing an action, recording a written authorization."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from incidents.case_templates import case_template_check
from incidents.models import (
    INCIDENT_TRANSITIONS,
    ActionType,
    Authorization,
    CaseTemplate,
    Incident,
    IncidentStatus,
    ResponseAction,
)
from incidents.selectors import awaiting_authorization
from mdrportal.core.transitions import allowed_next
from tenants.models import Contact


class IncidentForm(forms.ModelForm[Incident]):
    """The admin's incident form: a status change must be one the transition table allows."""

    status_reason = forms.CharField(
        required=False,
        max_length=500,
        help_text="Why the status changes (kept on the timeline, and with any action canceled by a close).",
    )
    case_template = forms.ModelChoiceField(
        queryset=CaseTemplate.objects.all(),
        required=False,
        help_text="Its recommendations are added once the incident is open (and can be edited); its actions "
        "are proposed for the observables the incident holds.",
    )

    class Meta:
        model = Incident
        fields: list[str] = []  # the admin chooses them

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk is None:
            del self.fields["status_reason"]  # a new incident opens; it has no status to change yet
        else:
            del self.fields["case_template"]  # applied to an open incident from its own page

    def clean_case_template(self) -> CaseTemplate | None:
        template: CaseTemplate | None = self.cleaned_data.get("case_template")
        if template is not None:
            case_template_check(template)  # refused here, before the incident opens, not after
        return template

    def clean_status(self) -> str:
        status: str = self.cleaned_data["status"]
        current = self.instance.status
        if (
            self.instance.pk
            and status != current
            and status not in allowed_next(INCIDENT_TRANSITIONS, current)
        ):
            allowed = ", ".join(
                sorted(IncidentStatus(s).label for s in allowed_next(INCIDENT_TRANSITIONS, current))
            )
            raise forms.ValidationError(
                f"An incident cannot go from {IncidentStatus(current).label} to {IncidentStatus(status).label} "
                f"(allowed: {allowed}).",
                code="bad_transition",
            )
        return status


class CancelActionForm(forms.Form):
    reason = forms.CharField(
        max_length=500, help_text="Why MDR Ops will not perform it: kept on the incident's timeline."
    )


class RetryActionForm(forms.Form):
    confirm = forms.BooleanField(
        label="Propose it again",
        help_text="The same action type on the same target, decided again by the gate; the failed one stays.",
    )


class ProposeActionForm(forms.Form):
    action_type = forms.ModelChoiceField(queryset=ActionType.objects.order_by("category", "name"))
    target = forms.CharField(
        max_length=255, help_text="Endpoint id or hostname, SHA-256, IP, domain or account."
    )


class RecordAuthorizationForm(forms.Form):
    actions: forms.ModelMultipleChoiceField[ResponseAction] = forms.ModelMultipleChoiceField(
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        help_text="Exactly the actions the customer decided on.",
    )
    contact: forms.ModelChoiceField[Contact] = forms.ModelChoiceField(
        queryset=None, help_text="Who wrote it: a contact allowed to authorize."
    )
    decision = forms.ChoiceField(
        choices=Authorization.Decision.choices, initial=Authorization.Decision.GRANTED
    )
    evidence = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="The customer's written message as received (email text, ticket reference and content).",
    )
    statement = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The customer's own words, if short.",
    )

    def __init__(self, *args: Any, incident: Incident, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The form's own copies of the fields declared above.
        actions = cast("forms.ModelMultipleChoiceField[ResponseAction]", self.fields["actions"])
        contact = cast("forms.ModelChoiceField[Contact]", self.fields["contact"])
        actions.queryset = awaiting_authorization(incident)
        contact.queryset = Contact.objects.filter(
            tenant=incident.tenant, active=True, can_authorize=True
        ).order_by("call_order")
