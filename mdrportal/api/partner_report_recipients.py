"""API views of a partner's monthly roll-up: who receives the report of all its customers, and a resend of
one month to one of them. The partner's people read them; its admins (and MDR staff allowed to change
recipients) change them, through reports.recipients, with the serializers of a tenant's recipients."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mdrportal.api.errors import service_errors
from mdrportal.api.permissions import signed_in_user
from mdrportal.api.report_recipients import ReportRecipientSerializer, ReportSendSerializer, ResendSerializer
from reports.models import ReportRecipient, ReportSend
from reports.recipients import (
    partner_recipients_refusal,
    partner_report_recipient_add,
    partner_report_recipient_remove,
    report_resend_request,
)
from tenants.models import Partner
from tenants.partner_defaults import partner_of_user


def _partner(request: Request, slug: str) -> Partner:
    """The partner the user may see: one of its people or MDR staff (404 otherwise)."""
    partner, _ = partner_of_user(request.user, slug)
    if partner is None:
        raise Http404("No such partner.")
    return partner


def _changer(request: Request, partner: Partner) -> None:
    """A write: only the partner's admins and MDR staff allowed to change recipients (403)."""
    refused = partner_recipients_refusal(user=request.user, partner=partner)
    if refused is not None:
        raise PermissionDenied(refused)


def _recipients(partner: Partner) -> list[ReportRecipient]:
    sends = Prefetch("sends", queryset=ReportSend.objects.order_by("-period_start", "-number"))
    return list(ReportRecipient.objects.filter(partner=partner, active=True).prefetch_related(sends))


class PartnerReportRecipientsView(APIView):
    """Who receives the partner's monthly roll-up of its customers, and what was sent to each."""

    @extend_schema(
        summary="Who receives a partner's monthly roll-up (its people, MDR staff)",
        responses={200: ReportRecipientSerializer(many=True)},
    )
    def get(self, request: Request, slug: str) -> Response:
        partner = _partner(request, slug)
        return Response(ReportRecipientSerializer(_recipients(partner), many=True).data)

    @extend_schema(
        summary="Send the partner's roll-up to this address too (its admins, MDR staff)",
        description="From the months that end after it is added (an address removed and added again too). "
        "On the settings history of every customer the roll-up covers.",
        request=ReportRecipientSerializer,
        responses={201: ReportRecipientSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        partner = _partner(request, slug)
        _changer(request, partner)
        serializer = ReportRecipientSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            recipient = partner_report_recipient_add(
                partner=partner, by=signed_in_user(request), **serializer.validated_data
            )
        return Response(ReportRecipientSerializer(recipient).data, status=status.HTTP_201_CREATED)


class PartnerReportRecipientView(APIView):
    """One recipient of the roll-up: removing it stops its report and keeps the record of what was sent."""

    @extend_schema(
        summary="Stop sending it the partner's roll-up (its admins, MDR staff)", responses={204: None}
    )
    def delete(self, request: Request, slug: str, pk: int) -> Response:
        partner = _partner(request, slug)
        recipient = get_object_or_404(ReportRecipient, pk=pk, partner=partner, active=True)
        _changer(request, partner)
        partner_report_recipient_remove(recipient=recipient, by=signed_in_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PartnerReportRecipientResendView(APIView):
    """A month's roll-up once more to one recipient: the only way it goes twice."""

    @extend_schema(
        summary="Send a month's roll-up again to this recipient (its admins, MDR staff)",
        description="Recorded as a numbered send naming who asked; a worker sends it once this is accepted.",
        request=ResendSerializer,
        responses={202: ReportSendSerializer},
    )
    def post(self, request: Request, slug: str, pk: int) -> Response:
        partner = _partner(request, slug)
        recipient = get_object_or_404(ReportRecipient, pk=pk, partner=partner, active=True)
        _changer(request, partner)
        serializer = ResendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            send = report_resend_request(
                recipient=recipient,
                period_start=serializer.validated_data["period_start"],
                by=signed_in_user(request),
            )
        return Response(ReportSendSerializer(send).data, status=status.HTTP_202_ACCEPTED)
