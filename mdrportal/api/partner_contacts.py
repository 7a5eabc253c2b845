"""API of a partner's own contacts and when its call tree may phone them: its people read them, its admins
(and MDR staff) set each contact's hours and away dates, read on the partner's clock, through the one
availability service."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.serializer_helpers import ReturnDict
from rest_framework.views import APIView

from mdrportal.api.availability_serializers import availability_apply, availability_fields
from mdrportal.api.errors import service_errors
from mdrportal.api.partners import partner_in_view
from mdrportal.api.permissions import signed_in_user
from tenants.availability import Availability
from tenants.models import Contact, Partner
from tenants.partner_defaults import partner_of_user


class PartnerAvailabilitySerializer(serializers.Serializer[Any]):
    """A partner contact's hours (in the partner's time zone) and away periods; a list given replaces it."""

    windows = availability_fields()["windows"]
    away_periods = availability_fields()["away_periods"]


class PartnerContactSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    call_order = serializers.IntegerField(read_only=True)
    active = serializers.BooleanField(read_only=True)
    time_zone = serializers.CharField(read_only=True, help_text="The partner's: the hours are read on it.")
    windows = availability_fields()["windows"]
    away_periods = availability_fields()["away_periods"]


def _shown(contact: Contact, partner: Partner) -> dict[str, Any]:
    availability = Availability.of(contact)
    return {
        "id": contact.pk,
        "name": contact.name,
        "call_order": contact.call_order,
        "active": contact.active,
        "time_zone": partner.timezone,
        "windows": [{"weekday": w.weekday, "starts": w.starts, "ends": w.ends} for w in availability.windows],
        "away_periods": [
            {"starts_at": a.starts_at, "ends_at": a.ends_at, "note": a.note} for a in availability.away
        ],
    }


def _shown_data(contact: Contact, partner: Partner) -> ReturnDict[str, Any]:
    return PartnerContactSerializer(_shown(contact, partner)).data


class PartnerContactsView(APIView):
    """The partner's contacts, in call order, with when its call tree may phone them."""

    @extend_schema(
        summary="A partner's contacts and their hours (its people, MDR staff)",
        responses={200: PartnerContactSerializer(many=True)},
    )
    def get(self, request: Request, slug: str) -> Response:
        partner = partner_in_view(request, slug)
        contacts = partner.contacts.order_by("call_order").prefetch_related("windows", "away_periods")
        return Response([_shown_data(c, partner) for c in contacts])


class PartnerContactAvailabilityView(APIView):
    """When the partner's call tree may phone one of its contacts."""

    @extend_schema(
        summary="Set a partner contact's hours and away periods (its admins, MDR staff)",
        description="Each list given replaces that list; a list left out is kept. Runs already under way keep "
        "their plan.",
        request=PartnerAvailabilitySerializer,
        responses={200: PartnerContactSerializer},
    )
    def patch(self, request: Request, slug: str, pk: int) -> Response:
        partner, is_admin = partner_of_user(request.user, slug)
        if partner is None:
            raise Http404("No such partner.")
        contact = get_object_or_404(Contact, pk=pk, partner=partner)
        if not is_admin:
            raise PermissionDenied(f"Only {partner}'s admins set when its contacts are phoned.")
        serializer = PartnerAvailabilitySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            availability_apply(contact, dict(serializer.validated_data), by=signed_in_user(request))
        return Response(_shown_data(contact, partner))
