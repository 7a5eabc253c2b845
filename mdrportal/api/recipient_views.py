"""The API of a monthly report's recipients, whoever owns them (a tenant's report, a partner's roll-up of its
customers): list and add, remove, and a month sent again to one of them. An owner (`RecipientsOf`) says whose
recipients a URL names, who may change them and which service adds and removes one; each owner's module
names its operations in the schema."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mdrportal.api.errors import service_errors
from mdrportal.api.permissions import signed_in_user
from mdrportal.core.outbox import OutboxState
from mdrportal.core.users import User
from reports.models import ReportRecipient, ReportSend
from reports.recipient_selectors import active_recipients, recipients_with_sends
from reports.recipients import report_resend_request
from tenants.models import Partner, Tenant

OwnerT = TypeVar("OwnerT", Tenant, Partner)  # whose recipients: a tenant's or a partner's


class ReportSendSerializer(serializers.ModelSerializer[ReportSend]):
    outcome = serializers.ChoiceField(choices=OutboxState.choices, source="state")

    class Meta:
        model = ReportSend
        fields = ["id", "period_start", "number", "outcome", "requested_by", "claimed_at", "sent_at"]


class ReportRecipientSerializer(serializers.ModelSerializer[ReportRecipient]):
    sends = ReportSendSerializer(many=True, read_only=True)

    class Meta:
        model = ReportRecipient
        fields = ["id", "email", "created_at", "sends"]
        read_only_fields = ["id", "created_at", "sends"]
        # The service refuses an address that receives the report already, with a field error.
        validators: list[object] = []


class ResendSerializer(serializers.Serializer[Any]):
    period_start = serializers.DateField(help_text="The first day of a month that has ended.")


class RecipientsOf(Generic[OwnerT]):
    """Whose recipients: found from the URL (404 where the user may not see them), who may change them, and
    the services that add and remove one."""

    def owner(self, request: Request, **kwargs: Any) -> OwnerT:
        raise NotImplementedError

    def refusal(self, request: Request, owner: OwnerT) -> str | None:
        raise NotImplementedError

    def add(self, owner: OwnerT, *, by: User, email: str) -> ReportRecipient:
        raise NotImplementedError

    def remove(self, recipient: ReportRecipient, *, by: User) -> None:
        raise NotImplementedError

    def writer(self, request: Request, **kwargs: Any) -> OwnerT:
        """The owner, for a write: refused (403) to whoever may not change its recipients."""
        owner = self.owner(request, **kwargs)
        self._refuse(request, owner)
        return owner

    def recipient(self, request: Request, pk: int, **kwargs: Any) -> ReportRecipient:
        """One of the owner's receiving addresses (404 otherwise), for a write."""
        owner = self.owner(request, **kwargs)
        recipient = get_object_or_404(active_recipients(owner), pk=pk)
        self._refuse(request, owner)
        return recipient

    def _refuse(self, request: Request, owner: OwnerT) -> None:
        refused = self.refusal(request, owner)
        if refused is not None:
            raise PermissionDenied(refused)


class RecipientsView(APIView, Generic[OwnerT]):
    """Who receives the owner's report, and what was sent to each; adding an address."""

    of: RecipientsOf[OwnerT]

    @extend_schema(responses={200: ReportRecipientSerializer(many=True)})
    def get(self, request: Request, **kwargs: Any) -> Response:
        recipients = recipients_with_sends(self.of.owner(request, **kwargs))
        return Response(ReportRecipientSerializer(recipients, many=True).data)

    @extend_schema(request=ReportRecipientSerializer, responses={201: ReportRecipientSerializer})
    def post(self, request: Request, **kwargs: Any) -> Response:
        owner = self.of.writer(request, **kwargs)
        serializer = ReportRecipientSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            recipient = self.of.add(owner, by=signed_in_user(request), **serializer.validated_data)
        return Response(ReportRecipientSerializer(recipient).data, status=status.HTTP_201_CREATED)


class RecipientView(APIView, Generic[OwnerT]):
    """One recipient: removing it stops its report and keeps the record of what was sent."""

    of: RecipientsOf[OwnerT]

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int, **kwargs: Any) -> Response:
        recipient = self.of.recipient(request, pk, **kwargs)
        self.of.remove(recipient, by=signed_in_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RecipientResendView(APIView, Generic[OwnerT]):
    """A month's report once more to one recipient: the only way a report goes twice."""

    of: RecipientsOf[OwnerT]

    @extend_schema(
        description="Recorded as a numbered send naming who asked; a worker sends it once this is accepted.",
        request=ResendSerializer,
        responses={202: ReportSendSerializer},
    )
    def post(self, request: Request, pk: int, **kwargs: Any) -> Response:
        recipient = self.of.recipient(request, pk, **kwargs)
        serializer = ResendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            send = report_resend_request(
                recipient=recipient,
                period_start=serializer.validated_data["period_start"],
                by=signed_in_user(request),
            )
        return Response(ReportSendSerializer(send).data, status=status.HTTP_202_ACCEPTED)
