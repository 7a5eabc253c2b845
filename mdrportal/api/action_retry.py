"""API view of retrying a failed action: the same action type on the same target, through the gate again."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.models import Channel, ResponseAction
from incidents.retry import action_retry
from mdrportal.api.errors import service_errors
from mdrportal.api.incident_serializers import ActionSerializer
from mdrportal.api.incidents import visible_incidents
from mdrportal.api.permissions import require_staff, signed_in_user


@extend_schema(
    summary="Retry a failed action (MDR staff)",
    description="Proposes the same action type on the same target again; the gate decides it anew and the "
    "failed action stays on the record. Any other status is a 400.",
    request=None,
    responses={201: ActionSerializer},
)
class ActionRetryView(generics.GenericAPIView[ResponseAction]):
    serializer_class = ActionSerializer

    def get_queryset(self) -> QuerySet[ResponseAction]:
        return ResponseAction.objects.filter(incident__in=visible_incidents(self.request)).select_related(
            "action_type", "incident__tenant"
        )

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        action = self.get_object()
        user = signed_in_user(request)
        require_staff(user, "incidents.add_responseaction", "retry actions")
        with service_errors():
            again = action_retry(action=action, by=user, channel=Channel.API)
        return Response(ActionSerializer(again).data, status=status.HTTP_201_CREATED)
