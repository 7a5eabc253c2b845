"""API views of a tenant's monthly report email: its recipients, whether it goes at all, and a resend of one
month to one recipient. Everyone who sees the tenant reads them; customer admins (or the partner's, under the
settings delegation) and MDR leads change them, through reports.recipients."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mdrportal.api.permissions import signed_in_user
from mdrportal.api.recipient_views import RecipientResendView, RecipientsOf, RecipientsView, RecipientView
from mdrportal.api.tenants import visible_tenant
from mdrportal.core.users import User
from reports.models import ReportRecipient
from reports.recipients import (
    monthly_report_enabled,
    monthly_report_switch,
    recipients_refusal,
    report_recipient_add,
    report_recipient_remove,
)
from tenants.models import Tenant


class MonthlyReportSerializer(serializers.Serializer[Any]):
    enabled = serializers.BooleanField(
        help_text="Off: no monthly report goes to the tenant's recipients. Turned back on, the reports due "
        "from then on go, not those of the months it was off."
    )


class TenantRecipients(RecipientsOf[Tenant]):
    """A tenant's recipients: everyone who sees the tenant reads them; customer admins (or the partner's,
    under the settings delegation) and MDR leads change them."""

    def owner(self, request: Request, **kwargs: Any) -> Tenant:
        return visible_tenant(request, kwargs["tenant_id"])

    def refusal(self, request: Request, owner: Tenant) -> str | None:
        return recipients_refusal(user=request.user, tenant=owner)

    def add(self, owner: Tenant, *, by: User, email: str) -> ReportRecipient:
        return report_recipient_add(tenant=owner, by=by, email=email)

    def remove(self, recipient: ReportRecipient, *, by: User) -> None:
        report_recipient_remove(recipient=recipient, by=by)


TENANT = TenantRecipients()


@extend_schema_view(
    get=extend_schema(summary="Who receives the tenant's monthly report"),
    post=extend_schema(
        summary="Send the monthly report to this address too (customer admins, MDR leads)",
        description="A partner's admins only where the customer lets the partner manage its settings. "
        "On the tenant's settings history.",
    ),
)
class TenantReportRecipientsView(RecipientsView[Tenant]):
    """Who receives the tenant's monthly report, and what was sent to each."""

    of = TENANT


@extend_schema_view(
    delete=extend_schema(summary="Stop sending it the monthly report (customer admins, MDR leads)"),
)
class ReportRecipientView(RecipientView[Tenant]):
    """One recipient: removing it stops its monthly report and keeps the record of what was sent."""

    of = TENANT


@extend_schema_view(
    post=extend_schema(summary="Send a month's report again to this recipient (customer admins, MDR leads)"),
)
class ReportRecipientResendView(RecipientResendView[Tenant]):
    of = TENANT


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
        tenant = TENANT.writer(request, tenant_id=tenant_id)
        serializer = MonthlyReportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        setting = monthly_report_switch(
            tenant=tenant, by=signed_in_user(request), **serializer.validated_data
        )
        return Response(MonthlyReportSerializer({"enabled": setting.enabled}).data)
