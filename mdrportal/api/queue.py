"""API view of the analysts' queue: assigning an incident to an MDR analyst (MDR staff only)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.models import Channel, Incident
from incidents.queue import incident_assign
from mdrportal.api.errors import service_errors
from mdrportal.api.incident_serializers import AssignSerializer, IncidentSerializer
from mdrportal.api.incidents import visible_incidents
from mdrportal.api.permissions import require_staff, signed_in_user


@extend_schema_view(
    post=extend_schema(
        summary="Assign the incident to an MDR analyst, or to nobody (MDR staff)",
        description="Kept on the timeline with who assigned it, before and after. A resolved or closed "
        "incident is a 409.",
        request=AssignSerializer,
        responses={200: IncidentSerializer},
    )
)
class IncidentAssignView(generics.GenericAPIView[Incident]):
    serializer_class = AssignSerializer
    lookup_url_kwarg = "incident_id"

    def get_queryset(self) -> QuerySet[Incident]:
        return visible_incidents(self.request)

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incident = self.get_object()
        require_staff(request.user, "incidents.change_incident", "assign incidents")
        serializer = AssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            assigned = incident_assign(
                incident=incident,
                owner=serializer.validated_data["owner"],
                by=signed_in_user(request),
                channel=Channel.API,
            )
        return Response(IncidentSerializer(assigned, context={"request": request}).data)
