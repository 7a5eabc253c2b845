"""How API clients get their token: POST a username and password, receive {"token": ...}."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response


class TokenView(ObtainAuthToken):
    # No session authentication here: a browser's session cookie must not make this a CSRF-checked view.
    authentication_classes: list = []

    @extend_schema(
        summary="Get your API token",
        description="Send it as `Authorization: Token <token>`. The same token is returned until it is "
        "revoked in the admin.",
        request=AuthTokenSerializer,
        responses={200: inline_serializer("Token", fields={"token": serializers.CharField()})},
        auth=[],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().post(request, *args, **kwargs)
