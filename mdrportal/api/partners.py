"""API view of a partner's defaults: its people read them; its admins set them, reaching every customer that
delegated its settings and did not set them itself. Every change decides for those customers: it needs a
recent second factor (tenants.deciding.PARTNER_DEFAULTS)."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mdrportal.api.auth import require_decision_second_factor
from mdrportal.api.errors import service_errors
from mdrportal.api.permissions import signed_in_user
from tenants.deciding import PARTNER_DEFAULTS
from tenants.models import Partner, Performer, ResponseMode
from tenants.partner_default_models import performer_code, performer_field
from tenants.partner_defaults import partner_default_set, partner_defaults_of, partner_of_user


def _shown(partner: Partner) -> dict[str, Any]:
    """The defaults as the API shows them: the settings, and the performers by action type's code."""
    shown: dict[str, Any] = {"performers": {}}
    for field, value in partner_defaults_of(partner).items():
        code = performer_code(field)
        if code is None:
            shown[field] = value
        else:
            shown["performers"][code] = value
    return shown


class PartnerDefaultsSerializer(serializers.Serializer[Any]):
    response_mode = serializers.ChoiceField(choices=ResponseMode.choices, required=False)
    authorize_on_no_ack = serializers.BooleanField(required=False)
    reminder_minutes = serializers.IntegerField(min_value=1, max_value=1440, required=False)
    reminder_count = serializers.IntegerField(min_value=1, max_value=20, required=False)
    performers = serializers.DictField(
        child=serializers.ChoiceField(choices=Performer.choices),
        required=False,
        help_text="Who performs each action type (by its code) under Collaborate, by default.",
    )


def partner_in_view(request: Request, slug: str, *, write: bool = False) -> Partner:
    """The partner the user may see (404 otherwise); for a write, only its admins and MDR staff (403), with a
    recent second factor: every partner default decides (403)."""
    partner, is_admin = partner_of_user(request.user, slug)
    if partner is None:
        raise Http404("No such partner.")
    if write and not is_admin:
        raise PermissionDenied(f"Only {partner}'s admins set its defaults.")
    return partner


class PartnerDefaultsView(APIView):
    """The partner's default settings."""

    @extend_schema(
        summary="A partner's defaults (its people, MDR staff)", responses={200: PartnerDefaultsSerializer}
    )
    def get(self, request: Request, slug: str) -> Response:
        partner = partner_in_view(request, slug)
        return Response(_shown(partner))

    @extend_schema(
        summary="Set some of a partner's defaults (its admins, MDR staff)",
        description="Only the fields given change (and, in performers, only the action types given). Each reaches at once every customer that lets the partner "
        "manage its settings and did not set it itself, all of them or none (400 naming the customer that "
        "cannot take it), each on that customer's settings history.",
        request=PartnerDefaultsSerializer,
        responses={200: PartnerDefaultsSerializer},
    )
    def patch(self, request: Request, slug: str) -> Response:
        partner = partner_in_view(request, slug, write=True)
        serializer = PartnerDefaultsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        changes.update({performer_field(c): p for c, p in changes.pop("performers", {}).items()})
        if changes and PARTNER_DEFAULTS.decides(changes):
            require_decision_second_factor(request)
        with service_errors():
            for field, value in changes.items():
                partner_default_set(partner=partner, by=signed_in_user(request), field=field, value=value)
        return Response(_shown(partner))
