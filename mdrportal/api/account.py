"""The signed-in person's own settings in the API: the time zone times are shown in (as on /account/)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mdrportal.api.errors import service_errors
from mdrportal.api.permissions import signed_in_user
from mdrportal.core.users import User
from tenants.preferences import default_time_zone, own_time_zone, user_time_zone_set


class ProfileSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(read_only=True)
    time_zone = serializers.CharField(
        max_length=64,
        allow_blank=True,
        help_text="The zone you chose (IANA name, e.g. Europe/Berlin); empty for the default.",
    )
    time_zone_in_use = serializers.CharField(
        read_only=True,
        help_text="The zone times are shown in: yours, else your customer's, else the portal's.",
    )


def _profile(user: User) -> dict[str, str]:
    own = own_time_zone(user)
    return {
        "username": user.get_username(),
        "time_zone": own,
        "time_zone_in_use": own or default_time_zone(user),
    }


class ProfileView(APIView):
    serializer_class = ProfileSerializer

    @extend_schema(summary="Read your own settings", responses=ProfileSerializer)
    def get(self, request: Request) -> Response:
        return Response(ProfileSerializer(_profile(signed_in_user(request))).data)

    @extend_schema(
        summary="Change your own time zone", request=ProfileSerializer, responses=ProfileSerializer
    )
    def patch(self, request: Request) -> Response:
        user = signed_in_user(request)
        serializer = ProfileSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "time_zone" in serializer.validated_data:
            with service_errors():
                user_time_zone_set(user=user, time_zone=serializer.validated_data["time_zone"])
        return Response(ProfileSerializer(_profile(user)).data)
