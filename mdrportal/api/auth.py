"""How API clients get their token: POST a username and password (and, for a token that may decide on
actions, a second-factor code), receive {"token": ...}."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from mdrportal.api.throttles import TokenCreationThrottle
from mdrportal.web.second_factor import is_fresh, second_factor_check
from tenants.models import ApiTokenSecondFactor

WRONG_CODE = "The second-factor code is not right, was used already, or came too late."
DECISION_NEEDS_SECOND_FACTOR = (
    "Deciding on actions through the API needs a token created with a second-factor code: POST "
    "/api/v1/auth/token/ with your username, password and `otp` (a code from your authenticator app)."
)


class TokenRequestSerializer(AuthTokenSerializer):
    otp = serializers.CharField(
        required=False,
        max_length=32,
        write_only=True,
        help_text="A code from your authenticator app (or a recovery code). A token created with it may "
        "authorize and decline actions.",
    )


@transaction.atomic
def token_for(user: Any, *, second_factor: bool) -> Token:
    """The user's token; with a second factor, one created after it (an older token is replaced)."""
    token, _ = Token.objects.select_for_update(no_key=True).get_or_create(user=user)
    if second_factor and not ApiTokenSecondFactor.objects.filter(token=token).exists():
        # A token that existed before this check may have been handed out without it: never upgrade it.
        token.delete()
        token = Token.objects.create(user=user)
        ApiTokenSecondFactor.objects.create(token=token, verified_at=timezone.now())
    return token


def require_decision_second_factor(request: Request) -> None:
    """Refuse (403) an API decision by a caller whose credentials did not pass a second factor."""
    if isinstance(request.auth, Token):
        if ApiTokenSecondFactor.objects.filter(token_id=request.auth.pk).exists():
            return
    elif request.auth is None and is_fresh(request._request):
        return  # a browser session that passed it recently, as the portal requires
    raise PermissionDenied(DECISION_NEEDS_SECOND_FACTOR)


class TokenView(ObtainAuthToken):
    # No session authentication here: a browser's session cookie must not make this a CSRF-checked view.
    authentication_classes: list = []
    throttle_classes = [TokenCreationThrottle]
    serializer_class = TokenRequestSerializer

    @extend_schema(
        summary="Get your API token",
        description="Send it as `Authorization: Token <token>`. The same token is returned until it is "
        "revoked in the admin. Customer approvers who decide on actions through the API send `otp` too: "
        "the token is then replaced by one that may decide.",
        request=TokenRequestSerializer,
        responses={200: inline_serializer("Token", fields={"token": serializers.CharField()})},
        auth=[],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        code = serializer.validated_data.get("otp")
        if code and second_factor_check(user=user, token=code) is None:
            raise serializers.ValidationError({"otp": [WRONG_CODE]})
        return Response({"token": token_for(user, second_factor=bool(code)).key})
