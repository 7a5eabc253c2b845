"""API views of case templates: MDR staff list them and apply one to an incident (its recommendations into
the case file, its actions proposed for the incident's observables, one decision per target, what stands
already skipped)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.case_templates import case_template_apply
from incidents.models import ActionType, CaseTemplate, CaseTemplateAction, Channel, Incident
from mdrportal.api.bulk import BulkOutcomeSerializer
from mdrportal.api.errors import service_errors
from mdrportal.api.incident_serializers import ActionSerializer
from mdrportal.api.incidents import visible_incident
from mdrportal.api.permissions import require_staff, signed_in_user


class CaseTemplateActionSerializer(serializers.ModelSerializer[CaseTemplateAction]):
    action_type: serializers.SlugRelatedField[ActionType] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )

    class Meta:
        model = CaseTemplateAction
        fields = ["action_type", "observable_kind"]


class CaseTemplateSerializer(serializers.ModelSerializer[CaseTemplate]):
    actions = CaseTemplateActionSerializer(
        many=True, read_only=True, help_text="Each proposed for every observable of its kind."
    )

    class Meta:
        model = CaseTemplate
        fields = ["id", "incident_type", "recommendations", "actions"]


class ApplyTemplateSerializer(serializers.Serializer[Any]):
    template = serializers.PrimaryKeyRelatedField(queryset=CaseTemplate.objects.all())


class TemplateSkipSerializer(serializers.Serializer[Any]):
    target = serializers.CharField()
    action_type = serializers.CharField(source="action_type.code", help_text="The action type's code.")
    action = ActionSerializer(help_text="The action of that type on that target that stands already.")
    reason = serializers.CharField(help_text="Why it was not proposed again.")


class TemplateAppliedSerializer(serializers.Serializer[Any]):
    changed = serializers.ListField(
        child=serializers.CharField(),
        help_text="The case file's fields the template changed (empty when its recommendations were there).",
    )
    outcomes = BulkOutcomeSerializer(many=True, help_text="Each target's new action and decision.")
    skipped = TemplateSkipSerializer(
        many=True,
        help_text="Targets left alone: the same action type on the same target still stands (waiting, "
        "queued, running, succeeded, with the customer or done). A declined, canceled, failed or reverted "
        "one is proposed again.",
    )


@extend_schema(summary="Case templates per incident type (MDR staff)")
class CaseTemplateListView(generics.ListAPIView[CaseTemplate]):
    serializer_class = CaseTemplateSerializer

    def get_queryset(self) -> QuerySet[CaseTemplate]:
        require_staff(self.request.user, "incidents.view_casetemplate", "read case templates")
        return CaseTemplate.objects.prefetch_related("actions__action_type").order_by("incident_type")


@extend_schema(
    summary="Apply a case template to the incident (MDR staff)",
    description="The template's recommendations are added to the case file once (a case file edit, still "
    "editable); each of its actions is proposed through the gate for every observable of its kind the "
    "incident holds, one decision per target, except where the same action type on the same target still "
    "stands: those are listed in `skipped` with the action already there. Applying again, or another "
    "template sharing an action, proposes only what is not there yet. A template with an action that does "
    "not act on its observables' kind is refused (400).",
    request=ApplyTemplateSerializer,
    responses={200: TemplateAppliedSerializer},
)
class IncidentApplyTemplateView(generics.GenericAPIView[Incident]):
    serializer_class = ApplyTemplateSerializer

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incident = visible_incident(request, kwargs["incident_id"])
        user = signed_in_user(request)
        require_staff(user, "incidents.change_incident", "edit the case file")
        require_staff(user, "incidents.add_responseaction", "propose actions")
        serializer = ApplyTemplateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            applied = case_template_apply(
                incident=incident,
                template=serializer.validated_data["template"],
                by=user,
                channel=Channel.API,
            )
        return Response(TemplateAppliedSerializer(applied).data)
