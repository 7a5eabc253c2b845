"""The model of a tenant's EDR connector settings (part of the incidents app; incidents.models loads it)."""

from __future__ import annotations

from django.db import models

from mdrportal.core.secret_fields import EncryptedTextField
from tenants.models import Tenant


class ConnectorKind(models.TextChoices):
    SIMULATED = "simulated", "Simulated"
    SOPHOS_CENTRAL = "sophos_central", "Sophos Central"
    WEBHOOK = "webhook", "Webhook (signed JSON POST)"


class ConnectorConfig(models.Model):
    """How MDR Ops reaches one tenant's endpoint platform; no row means the simulated connector."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="connector")
    kind = models.CharField(max_length=32, choices=ConnectorKind.choices, default=ConnectorKind.SIMULATED)
    url = models.URLField(
        blank=True,
        help_text="Sophos Central: the tenant's data-region API host. Webhook: the receiver's URL.",
    )
    client_id = models.CharField(max_length=200, blank=True, help_text="Sophos Central: API client id.")
    external_tenant_id = models.CharField(
        max_length=200, blank=True, help_text="Sophos Central: the tenant id sent as X-Tenant-ID."
    )
    # Write-only: forms never show it back, logs and timeline events never carry it; encrypted at rest.
    secret = EncryptedTextField(blank=True)
    options = models.JSONField(
        default=dict,
        blank=True,
        help_text='Simulated: {"transient": [targets], "permanent": [targets], "transient_attempts": 2}.',
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.tenant}"
