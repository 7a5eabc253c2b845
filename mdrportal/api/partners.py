"""API view of a partner's defaults: its people read them; its admins set them, reaching every customer that
delegated its settings and did not set them itself. The mode and the checkbox need a recent second factor."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mdrportal.api.auth import require_decision_second_factor
from mdrportal.api.errors import service_errors
from tenants.models import ResponseMode
from tenants.partner_defaults import partner_default_set, partner_defaults_of, partner_of_user

DECIDING_DEFAULTS = {"response_mode", "authorize_on_no_ack"}


class PartnerDefaultsSerializer(serializers.Serializer):
    response_mode = serializers.ChoiceField(choices=ResponseMode.choices, required=False)
    authorize_on_no_ack = serializers.BooleanField(required=False)
    reminder_minutes = serializers.IntegerField(min_value=1, max_value=1440, required=False)
    reminder_count = serializers.IntegerField(min_value=1, max_value=20, required=False)


class PartnerDefaultsView(APIView):
    """The partner's default settings."""

    def _partner(self, request: Request, slug: str) -> tuple[object, bool]:
        partner, is_admin = partner_of_user(request.user, slug)
        if partner is None:
            raise Http404("No such partner.")
        return partner, is_admin

    @extend_schema(
        summary="A partner's defaults (its people, MDR staff)", responses={200: PartnerDefaultsSerializer}
    )
    def get(self, request: Request, slug: str) -> Response:
        partner, _ = self._partner(request, slug)
        return Response(partner_defaults_of(partner))  # type: ignore[arg-type]

    @extend_schema(
        summary="Set some of a partner's defaults (its admins, MDR staff)",
        description="Only the fields given change. Each reaches at once every customer that lets the partner "
        "manage its settings and did not set it itself, all of them or none (400 naming the customer that "
        "cannot take it), each on that customer's settings history.",
        request=PartnerDefaultsSerializer,
        responses={200: PartnerDefaultsSerializer},
    )
    def patch(self, request: Request, slug: str) -> Response:
        partner, is_admin = self._partner(request, slug)
        if not is_admin:
            raise PermissionDenied(f"Only {partner}'s admins set its defaults.")
        serializer = PartnerDefaultsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = serializer.validated_data
        if DECIDING_DEFAULTS & set(changes):
            require_decision_second_factor(request)
        with service_errors():
            for field, value in changes.items():
                partner_default_set(partner=partner, by=request.user, field=field, value=value)  # type: ignore[arg-type]
        return Response(partner_defaults_of(partner))  # type: ignore[arg-type]
