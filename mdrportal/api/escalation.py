"""API views that start notification and acknowledge an incident; escalation.runs.services does the work."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from escalation.acknowledgments.services import acknowledgment_record
from escalation.runs.services import notification_start
from incidents.models import Channel
from mdrportal.api.deciding import decision_check
from mdrportal.api.errors import service_errors
from mdrportal.api.escalation_serializers import AcknowledgmentSerializer, NotificationRunSerializer
from mdrportal.api.incidents import visible_incident
from mdrportal.api.permissions import require_staff, signed_in_user
from tenants.deciding import ACKNOWLEDGE


class IncidentEscalateView(APIView):
    @extend_schema(
        summary="Start notifying the customer (MDR staff)",
        description="Emails to every contact, then the call tree in call order until someone acknowledges. "
        "While a round is under way, starting again returns that round; a round waiting for its time "
        "(nobody acknowledged the last one) starts now.",
        request=None,
        responses={202: NotificationRunSerializer},
    )
    def post(self, request: Request, incident_id: int) -> Response:
        incident = visible_incident(request, incident_id)
        require_staff(request.user, "incidents.change_incident", "start notification")
        with service_errors():
            run = notification_start(incident=incident, by=signed_in_user(request), channel=Channel.API)
        return Response(NotificationRunSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class IncidentAcknowledgeView(APIView):
    @extend_schema(
        summary="Acknowledge the incident (customer admins and approvers)",
        description="'We have it': further calls stop. An acknowledgment authorizes nothing.",
        request=None,
        responses={201: AcknowledgmentSerializer},
    )
    def post(self, request: Request, incident_id: int) -> Response:
        incident = visible_incident(request, incident_id)
        # The customer's own "we have it": it stops the calls and so the no-answer fallback, which is
        # why MDR staff do not acknowledge for the customer here.
        decision_check(request, tenant=incident.tenant, operation=ACKNOWLEDGE)
        with service_errors():
            ack = acknowledgment_record(incident=incident, channel=Channel.API, user=signed_in_user(request))
        return Response(AcknowledgmentSerializer(ack).data, status=status.HTTP_201_CREATED)
