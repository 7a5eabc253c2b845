"""The API's authentication by personal token, `Authorization: Token <key>` (tenants/api_tokens.py).

A module of its own: REST_FRAMEWORK's settings load it while DRF's views are being defined, so it imports
no view."""

from __future__ import annotations

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from mdrportal.core.users import User
from tenants.api_tokens import api_token_find, api_token_used
from tenants.models import ApiToken

INVALID_TOKEN = "Invalid token: unknown, revoked or expired, or its user's password or account changed."


class PersonalTokenAuthentication(TokenAuthentication):
    """A person's token that is live: not expired or revoked, not from before a password change, its user
    active. `request.auth` is the ApiToken."""

    def authenticate_credentials(self, key: str) -> tuple[User, ApiToken]:
        token = api_token_find(key)
        if token is None:
            raise AuthenticationFailed(INVALID_TOKEN)
        api_token_used(token=token)
        return token.user, token
