"""API view of bulk proposals: one action type for many targets, each through the gate (MDR staff)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.bulk import BULK_MAX, actions_propose_many, bulk_targets, observables_of_kind
from incidents.models import ActionType, Channel, Incident, ObservableKind
from mdrportal.api.errors import service_errors
from mdrportal.api.incident_serializers import ActionSerializer
from mdrportal.api.incidents import visible_incident
from mdrportal.api.permissions import require_staff, signed_in_user


class BulkProposeSerializer(serializers.Serializer[Any]):
    action_type = serializers.SlugRelatedField(
        slug_field="code", queryset=ActionType.objects.all(), help_text="An action type's code."
    )
    targets = serializers.ListField(
        child=serializers.CharField(max_length=255), required=False, default=list, max_length=BULK_MAX
    )
    observables = serializers.ChoiceField(
        choices=ObservableKind.choices,
        required=False,
        help_text="Also every observable of this kind the incident holds.",
    )


class BulkOutcomeSerializer(serializers.Serializer[Any]):
    target = serializers.CharField()
    action = ActionSerializer(allow_null=True, help_text="The action proposed, with the gate's decision.")
    error = serializers.CharField(help_text="Why no action was proposed for this target; empty when one was.")


@extend_schema(
    summary="Propose one action type for many targets (MDR staff)",
    description=f"Each target (at most {BULK_MAX}, each once) is its own proposal through the gate; the answer "
    "lists each target's action and decision, or why it was refused. One refused target does not stop the "
    "others.",
    request=BulkProposeSerializer,
    responses={200: BulkOutcomeSerializer(many=True)},
)
class IncidentBulkProposeView(generics.GenericAPIView[Incident]):
    serializer_class = BulkProposeSerializer

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incident = visible_incident(request, kwargs["incident_id"])
        user = signed_in_user(request)
        require_staff(user, "incidents.add_responseaction", "propose actions")
        serializer = BulkProposeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        held = observables_of_kind(incident, data.get("observables"))
        with service_errors():
            outcomes = actions_propose_many(
                incident=incident,
                action_type=data["action_type"],
                targets=bulk_targets("", *data["targets"], *held),
                by=user,
                channel=Channel.API,
                observables=held,
            )
        return Response(BulkOutcomeSerializer(outcomes, many=True).data)
