"""API views of a tenant's monthly report email: its recipients, whether it goes at all, and a resend of one
month to one recipient. Everyone who sees the tenant reads them; customer admins (or the partner's, under the
settings delegation) and MDR leads change them, through reports.recipients."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mdrportal.api.errors import service_errors
from mdrportal.api.permissions import signed_in_user
from mdrportal.api.tenants import visible_tenant
from mdrportal.core.outbox import OutboxState
from reports.models import ReportRecipient, ReportSend
from reports.recipients import (
    monthly_report_enabled,
    monthly_report_switch,
    recipients_refusal,
    report_recipient_add,
    report_recipient_remove,
    report_resend_request,
)
from tenants.models import Tenant


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


class MonthlyReportSerializer(serializers.Serializer[Any]):
    enabled = serializers.BooleanField(
        help_text="Off: no monthly report goes to the tenant's recipients. Turned back on, the reports due "
        "from then on go, not those of the months it was off."
    )


class ResendSerializer(serializers.Serializer[Any]):
    period_start = serializers.DateField(help_text="The first day of a month that has ended.")


def _changer(request: Request, tenant: Tenant) -> None:
    refused = recipients_refusal(user=request.user, tenant=tenant)
    if refused is not None:
        raise PermissionDenied(refused)


def _recipients(tenant: Tenant) -> list[ReportRecipient]:
    sends = Prefetch("sends", queryset=ReportSend.objects.order_by("-period_start", "-number"))
    return list(ReportRecipient.objects.filter(tenant=tenant, active=True).prefetch_related(sends))


class TenantReportRecipientsView(APIView):
    """Who receives the tenant's monthly report, and what was sent to each."""

    @extend_schema(
        summary="Who receives the tenant's monthly report",
        responses={200: ReportRecipientSerializer(many=True)},
    )
    def get(self, request: Request, tenant_id: int) -> Response:
        tenant = visible_tenant(request, tenant_id)
        return Response(ReportRecipientSerializer(_recipients(tenant), many=True).data)

    @extend_schema(
        summary="Send the monthly report to this address too (customer admins, MDR leads)",
        description="A partner's admins only where the customer lets the partner manage its settings. "
        "On the tenant's settings history.",
        request=ReportRecipientSerializer,
        responses={201: ReportRecipientSerializer},
    )
    def post(self, request: Request, tenant_id: int) -> Response:
        tenant = visible_tenant(request, tenant_id)
        _changer(request, tenant)
        serializer = ReportRecipientSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            recipient = report_recipient_add(
                tenant=tenant, by=signed_in_user(request), **serializer.validated_data
            )
        return Response(ReportRecipientSerializer(recipient).data, status=status.HTTP_201_CREATED)


class ReportRecipientView(APIView):
    """One recipient: removing it stops its monthly report and keeps the record of what was sent."""

    @extend_schema(
        summary="Stop sending it the monthly report (customer admins, MDR leads)", responses={204: None}
    )
    def delete(self, request: Request, tenant_id: int, pk: int) -> Response:
        tenant = visible_tenant(request, tenant_id)
        recipient = get_object_or_404(ReportRecipient, pk=pk, tenant=tenant, active=True)
        _changer(request, tenant)
        report_recipient_remove(recipient=recipient, by=signed_in_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ReportRecipientResendView(APIView):
    """A month's report once more to one recipient: the only way a report goes twice."""

    @extend_schema(
        summary="Send a month's report again to this recipient (customer admins, MDR leads)",
        description="Recorded as a numbered send naming who asked; a worker sends it once this is accepted.",
        request=ResendSerializer,
        responses={202: ReportSendSerializer},
    )
    def post(self, request: Request, tenant_id: int, pk: int) -> Response:
        tenant = visible_tenant(request, tenant_id)
        recipient = get_object_or_404(ReportRecipient, pk=pk, tenant=tenant, active=True)
        _changer(request, tenant)
        serializer = ResendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            send = report_resend_request(
                recipient=recipient,
                period_start=serializer.validated_data["period_start"],
                by=signed_in_user(request),
            )
        return Response(ReportSendSerializer(send).data, status=status.HTTP_202_ACCEPTED)


class TenantMonthlyReportView(APIView):
    """Whether the tenant's monthly report email goes at all."""

    @extend_schema(summary="Whether the monthly report email is on", responses={200: MonthlyReportSerializer})
    def get(self, request: Request, tenant_id: int) -> Response:
        tenant = visible_tenant(request, tenant_id)
        return Response(MonthlyReportSerializer({"enabled": monthly_report_enabled(tenant)}).data)

    @extend_schema(
        summary="Turn the monthly report email on or off (customer admins, MDR leads)",
        description="On the tenant's settings history.",
        request=MonthlyReportSerializer,
        responses={200: MonthlyReportSerializer},
    )
    def put(self, request: Request, tenant_id: int) -> Response:
        tenant = visible_tenant(request, tenant_id)
        _changer(request, tenant)
        serializer = MonthlyReportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        setting = monthly_report_switch(
            tenant=tenant, by=signed_in_user(request), **serializer.validated_data
        )
        return Response(MonthlyReportSerializer({"enabled": setting.enabled}).data)
