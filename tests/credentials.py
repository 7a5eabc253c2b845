"""API credentials as a test needs them: a token with or without a second factor passed some time ago, and a
revoked one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tenants.models import ApiTokenSecondFactor


def api_client_for(user: Any, *, second_factor_age: timedelta | None) -> APIClient:
    """A client with the user's token. None: a token made without a second factor; a timedelta: the token's
    second factor was passed that long ago."""
    token, _ = Token.objects.get_or_create(user=user)
    ApiTokenSecondFactor.objects.filter(token=token).delete()
    if second_factor_age is not None:
        ApiTokenSecondFactor.objects.create(token=token, verified_at=timezone.now() - second_factor_age)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def revoked_api_client_for(user: Any) -> APIClient:
    """A client whose token (made with a second factor just passed) was revoked since."""
    client = api_client_for(user, second_factor_age=timedelta(0))
    Token.objects.filter(user=user).delete()
    return client
