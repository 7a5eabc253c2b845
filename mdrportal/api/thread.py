"""API view of an incident's thread between the customer's users and MDR Ops; a message authorizes
nothing."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from escalation.emails.thread import thread_message_send
from incidents.models import Channel, Message, MessageSide
from incidents.thread import MESSAGE_MAX, thread
from mdrportal.api.errors import service_errors
from mdrportal.api.incidents import visible_incident
from mdrportal.api.permissions import is_mdr_staff, signed_in_user
from mdrportal.core.users import User


class MessageSerializer(serializers.ModelSerializer[Message]):
    author: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    side = serializers.ChoiceField(choices=MessageSide.choices, read_only=True)
    body = serializers.CharField(max_length=MESSAGE_MAX)

    class Meta:
        model = Message
        fields = ["id", "side", "author", "body", "at"]
        read_only_fields = ["id", "side", "author", "at"]


@extend_schema_view(
    get=extend_schema(summary="The incident's thread between the customer and MDR Ops"),
    post=extend_schema(
        summary="Write in the thread (the tenant's users, MDR staff)",
        description="A customer's message marks the incident 'customer responded' for MDR Ops until they "
        "answer. A message never authorizes an action: authorizing is its own operation.",
    ),
)
class IncidentMessagesView(generics.ListCreateAPIView[Message]):
    serializer_class = MessageSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Message]:
        return thread(visible_incident(self.request, self.kwargs["incident_id"]))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incident = visible_incident(request, self.kwargs["incident_id"])
        staff = is_mdr_staff(request.user, "incidents.change_incident")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            message = thread_message_send(
                incident=incident,
                body=serializer.validated_data["body"],
                side=MessageSide.MDR if staff else MessageSide.CUSTOMER,
                by=signed_in_user(request),
                channel=Channel.API,
            )
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)
