"""The OpenAPI schema's `integrationKey` security scheme (loaded by mdrportal.api.urls: drf-spectacular finds
extensions by their import, and the authentication class itself loads while DRF does)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from mdrportal.api.integration_keys import IntegrationKeyAuthentication
from tenants.integration_key_models import KEY_SCHEME


class IntegrationKeyScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]  # its registration hook is unannotated
    """The schema's `integrationKey` security scheme, listed only on the operations a key may call."""

    target_class = IntegrationKeyAuthentication
    name = "integrationKey"

    # None: no requirement on this operation, as drf-spectacular's AutoSchema.get_auth reads it.
    def get_security_requirement(  # type: ignore[override]  # its annotation leaves out the None it reads
        self, auto_schema: AutoSchema
    ) -> dict[str, list[str]] | None:
        allowed: frozenset[str] = getattr(auto_schema.view, "integration_key_methods", frozenset())
        return {self.name: []} if auto_schema.method.upper() in allowed else None

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": f"{KEY_SCHEME}_<prefix>_<secret>",
            "description": "A detection pipeline's integration key, created by an MDR lead in the admin and "
            "shown once. It opens incidents and proposes actions for the tenants it names and reads what "
            "it opened; it decides nothing. Its writes have their own rate (API_INTEGRATION_KEY_RATE).",
        }
