"""How API clients authenticate: personal tokens (tenants/api_tokens.py), asked for with a username, a
password and, for everyone the portal asks for one, a second-factor code; listed and revoked by their
owner; and the one check every deciding API operation makes.

A token created with a code may decide for SECOND_FACTOR_STEP_UP_HOURS after it, as a web session may after
its code. After that (and always for a token created without a code) a decision is refused with 403; the
owner POSTs /api/v1/auth/token/ again with `otp`, which issues a new token (the key of a token is never
kept, so none is handed out twice), and revokes the old one (DELETE /api/v1/auth/tokens/{id}/) or lets it
expire.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mdrportal.api.permissions import signed_in_user
from mdrportal.api.throttles import TokenCreationThrottle
from mdrportal.web.second_factor import is_fresh, needs_second_factor, second_factor_check, totp_device
from tenants.api_tokens import (
    api_token_create,
    api_token_decides,
    api_token_revoke,
    api_tokens_of,
)
from tenants.models import ApiToken

# A person rarely needs more at once; a script that asks for a token on every run is told to revoke them.
MAX_TOKENS_PER_USER = 20

WRONG_CODE = "The second-factor code is not right, was used already, or came too late."
CODE_NEEDED = (
    "This account needs a second factor for API tokens too: send `otp`, a code from your authenticator app "
    "(or a recovery code)."
)
NOT_ENROLLED = (
    "This account needs a second factor and has none set up yet: sign in to the portal once to set up "
    "your authenticator app, then ask for a token with `otp`."
)
TOO_MANY = (
    f"You have {MAX_TOKENS_PER_USER} tokens that still work: revoke one you no longer use "
    "(DELETE /api/v1/auth/tokens/{id}/) first."
)


def _decision_refusal(hours: int) -> dict[str, str]:
    return {
        "none": "Deciding through the API needs a token created with a second-factor code: POST "
        "/api/v1/auth/token/ with your username, password and `otp` (a code from your authenticator app). "
        f"(In a browser: a second factor passed in the portal within the last {hours} hours.)",
        "stale": f"This token's second factor was passed more than {hours} hours ago, and deciding needs one "
        "within that time: POST /api/v1/auth/token/ with your username, password and `otp` for a new token.",
    }


def require_decision_second_factor(request: Request) -> None:
    """Refuse (403) an API decision by a caller who did not pass a second factor within
    SECOND_FACTOR_STEP_UP_HOURS: a token by its creation's code, a browser session by its last code.
    Any other kind of credentials never decides."""
    refusal = _decision_refusal(settings.SECOND_FACTOR_STEP_UP_HOURS)
    auth = request.auth
    if isinstance(auth, ApiToken):
        if api_token_decides(auth):
            return
        raise PermissionDenied(refusal["none" if auth.second_factor_at is None else "stale"])
    if auth is None and request.user.is_authenticated and is_fresh(request._request):
        return
    raise PermissionDenied(refusal["none"])


class TokenRequestSerializer(AuthTokenSerializer):
    otp = serializers.CharField(
        required=False,
        max_length=32,
        write_only=True,
        help_text="A code from your authenticator app (or a recovery code). Needed by everyone the portal "
        "asks for one; a token created with it may decide on actions for SECOND_FACTOR_STEP_UP_HOURS.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        user = attrs["user"]
        code = attrs.get("otp")
        # Before the code is checked: a recovery code is used up by its check.
        if api_tokens_of(user).count() >= MAX_TOKENS_PER_USER:
            raise serializers.ValidationError(TOO_MANY)
        if not code:
            if needs_second_factor(user):
                raise serializers.ValidationError(
                    {"otp": [CODE_NEEDED if totp_device(user) is not None else NOT_ENROLLED]}
                )
        elif second_factor_check(user=user, token=code) is None:
            raise serializers.ValidationError({"otp": [WRONG_CODE]})
        attrs["second_factor_at"] = timezone.now() if code else None
        return attrs


class ApiTokenSerializer(serializers.ModelSerializer[ApiToken]):
    """A token as its owner sees it: never its key."""

    decides = serializers.SerializerMethodField(
        help_text="Whether it may decide on actions now (its second factor is within the step-up window)."
    )

    class Meta:
        model = ApiToken
        fields = ["id", "created_at", "expires_at", "last_used_at", "second_factor_at", "decides"]
        read_only_fields = fields

    def get_decides(self, token: ApiToken) -> bool:
        return api_token_decides(token)


class IssuedTokenSerializer(ApiTokenSerializer):
    token = serializers.CharField(
        help_text="The key: shown this once, never kept. Send it as `Authorization: Token <key>`."
    )

    class Meta(ApiTokenSerializer.Meta):
        fields = ["token", *ApiTokenSerializer.Meta.fields]
        read_only_fields = fields


class TokenView(APIView):
    # No session authentication here: a browser's session cookie must not make this a CSRF-checked view.
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes: list[type[BasePermission]] = []
    throttle_classes = [TokenCreationThrottle]

    @extend_schema(
        summary="Get a new API token",
        description="Send it as `Authorization: Token <key>`; the key is shown once. It expires after "
        "API_TOKEN_TTL_DAYS (30 days by default). Everyone the portal asks for a second factor sends `otp` "
        "too; a token created with it may decide on actions (authorize, decline, acknowledge, change who "
        "and what decides) for SECOND_FACTOR_STEP_UP_HOURS (12 by default). After that, POST here again "
        "with `otp` for a new token and revoke the old one.",
        request=TokenRequestSerializer,
        responses={200: IssuedTokenSerializer},
        auth=[],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = TokenRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        token, key = api_token_create(user=data["user"], second_factor_at=data["second_factor_at"])
        # IssuedTokenSerializer's shape: the key first, then the token as its owner sees it.
        return Response({"token": key, **ApiTokenSerializer(token).data})


class TokenListView(generics.ListAPIView[ApiToken]):
    serializer_class = ApiTokenSerializer

    @extend_schema(summary="List your API tokens that still work (never their keys)")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[ApiToken]:
        return api_tokens_of(signed_in_user(self.request))


class TokenRevokeView(APIView):
    @extend_schema(
        summary="Revoke one of your API tokens",
        request=None,
        responses={204: None, 404: inline_serializer("NotFound", {"detail": serializers.CharField()})},
    )
    def delete(self, request: Request, pk: int) -> Response:
        if not api_token_revoke(user=signed_in_user(request), token_id=pk):
            raise NotFound("You have no such token.")
        return Response(status=status.HTTP_204_NO_CONTENT)
