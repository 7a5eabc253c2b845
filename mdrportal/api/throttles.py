"""API throttles, counted in the shared cache (Redis when configured, the database otherwise) so that
every web process enforces one limit: token creation per client address, writes per user, and writes per
integration key at the keys' own rate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

from mdrportal.api.integration_keys import integration_key_of
from mdrportal.core.client_address import client_address

if TYPE_CHECKING:
    from rest_framework.views import APIView  # the settings load this module while DRF defines its views


class TokenCreationThrottle(SimpleRateThrottle):
    """POST /auth/token/ per client address (TRUSTED_PROXY_COUNT decides which), whoever is named."""

    scope = "token"

    def get_rate(self) -> str:
        return settings.API_TOKEN_RATE

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_address(request._request) or "-"}


class WriteThrottle(UserRateThrottle):
    """Every write (POST, PUT, PATCH, DELETE) per user, or per client address for anonymous callers;
    reads are not throttled."""

    scope = "write"

    def get_rate(self) -> str:
        return settings.API_WRITE_RATE

    def get_ident(self, request: Request) -> str:
        return client_address(request._request) or "-"

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS or integration_key_of(request) is not None:
            return True  # a key's writes are counted by IntegrationKeyThrottle
        return super().allow_request(request, view)


class IntegrationKeyThrottle(SimpleRateThrottle):
    """Every write per integration key, at API_INTEGRATION_KEY_RATE: sized for a mass event (a pipeline
    opening a thousand incidents with their actions in a minute), where the persons' rate would hold it back
    for minutes. Persons and reads are not counted here."""

    scope = "integration_key"

    def get_rate(self) -> str:
        return settings.API_INTEGRATION_KEY_RATE

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        key = integration_key_of(request)
        return None if key is None else self.cache_format % {"scope": self.scope, "ident": key.pk}

    def allow_request(self, request: Request, view: APIView) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)
