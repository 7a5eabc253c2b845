"""Detection pipelines in the API: `Authorization: Bearer mdrk_<prefix>_<secret>` authenticates an integration
key, which opens incidents and proposes actions for its tenants and reads what it opened, nothing else.

The key is no person: request.user is an anonymous principal, so every check that looks for a person (signed
in, staff, a role at a tenant, a Django permission, a second factor) refuses it; request.auth is the key.
A view lets keys in only by naming the methods they may use in `integration_key_methods`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from tenants.integration_key_models import KEY_SCHEME, IntegrationKey
from tenants.integration_key_services import integration_key_use
from tenants.models import Tenant
from tenants.selectors import integration_key_tenants

if TYPE_CHECKING:
    from rest_framework.views import APIView  # the settings load this module while DRF defines its views

KEYWORD = "Bearer"
UNKNOWN_KEY = "Unknown or revoked integration key."
KEY_REFUSED = (
    "An integration key opens incidents, proposes actions and reads what it opened; it decides nothing and "
    "changes no setting."
)
# What a view that lets keys in usually lets them do: read, and create (open an incident, propose an action).
READ = frozenset({"GET", "HEAD"})
READ_AND_CREATE = READ | {"POST"}


class IntegrationKeyPrincipal(AnonymousUser):
    """request.user for a pipeline: not signed in, not staff, no role and no permission anywhere."""

    def __init__(self, key: IntegrationKey) -> None:
        self.key = key

    def __str__(self) -> str:
        return str(self.key)


class IntegrationKeyAuthentication(BaseAuthentication):
    """`Bearer mdrk_...` only: any other header (a person's `Token ...`) is left to its own class."""

    def authenticate(self, request: Request) -> tuple[IntegrationKeyPrincipal, IntegrationKey] | None:
        words = get_authorization_header(request).split()
        if len(words) != 2 or words[0].decode("latin-1").lower() != KEYWORD.lower():
            return None
        try:
            presented = words[1].decode("ascii")
        except UnicodeDecodeError:
            return None
        if not presented.startswith(f"{KEY_SCHEME}_"):
            return None
        key = integration_key_use(presented=presented)
        if key is None:
            raise AuthenticationFailed(UNKNOWN_KEY)
        return IntegrationKeyPrincipal(key), key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


def integration_key_of(request: Request) -> IntegrationKey | None:
    """The integration key the request came with, or None for a person (or nobody)."""
    return request.auth if isinstance(request.auth, IntegrationKey) else None


class SignedInOrIntegrationKey(BasePermission):
    """The API's default: a signed-in person, or an integration key where the view names the method."""

    message = KEY_REFUSED

    def has_permission(self, request: Request, view: APIView) -> bool:
        if integration_key_of(request) is not None:
            return request.method in getattr(view, "integration_key_methods", frozenset())
        return bool(request.user and request.user.is_authenticated)


def require_key_acts_for(key: IntegrationKey, tenant: Tenant) -> None:
    if not integration_key_tenants(key).filter(pk=tenant.pk).exists():
        raise PermissionDenied(f"{key} does not act for tenant #{tenant.pk}.")
