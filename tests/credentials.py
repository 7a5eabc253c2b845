"""API clients holding a person's token in a given state: with or without a second factor and how long ago
it was passed, or revoked by its owner. Tokens are made through the token services, as the token endpoint
makes them, so a test need not know an authenticator code."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from rest_framework.test import APIClient

from tenants.api_tokens import api_token_create, api_token_revoke
from tenants.models import ApiToken


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def api_token_for(user: Any, *, second_factor_age: timedelta | None) -> tuple[ApiToken, str]:
    """A new token of the user and its key; see api_client_for."""
    at = None if second_factor_age is None else timezone.now() - second_factor_age
    return api_token_create(user=user, second_factor_at=at)


def api_client_for(user: Any, *, second_factor_age: timedelta | None) -> APIClient:
    """A client with a new token of the user. None: a token made without a second factor; a timedelta: the
    token's second factor was passed that long ago."""
    _token, key = api_token_for(user, second_factor_age=second_factor_age)
    return _client(key)


def revoked_api_client_for(user: Any) -> APIClient:
    """A client whose token (made with a second factor just passed) was revoked by its owner."""
    token, key = api_token_for(user, second_factor_age=timedelta(0))
    assert api_token_revoke(user=user, token_id=token.pk)
    return _client(key)
