"""Case templates per incident type: the recommendations MDR staff usually give and the actions they
usually propose, each fed by the incident's observables of one kind (part of the incidents app)."""

from __future__ import annotations

from django.db import models

from incidents.case_models import ObservableKind


class CaseTemplate(models.Model):
    """A starting point for one type of incident (ransomware, business email compromise...)."""

    incident_type = models.CharField(max_length=120, unique=True)
    recommendations = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["incident_type"]

    def __str__(self) -> str:
        return self.incident_type


class CaseTemplateAction(models.Model):
    """One action type a template proposes, once for every observable of one kind the incident holds."""

    template = models.ForeignKey(CaseTemplate, on_delete=models.CASCADE, related_name="actions")
    action_type = models.ForeignKey("incidents.ActionType", on_delete=models.PROTECT, related_name="+")
    observable_kind = models.CharField(
        max_length=16, choices=ObservableKind.choices, help_text="Its targets: the observables of this kind."
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "action_type", "observable_kind"], name="one_template_action_per_kind"
            )
        ]

    def __str__(self) -> str:
        return f"{self.action_type} on every {self.get_observable_kind_display()} observable"
