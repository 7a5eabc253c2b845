"""The model of the Idempotency-Keys API clients send with the POSTs that open incidents (part of the incidents
app; incidents.models loads it)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenants.models import IntegrationKey


class IdempotencyKey(models.Model):
    """An Idempotency-Key an API client sent with a POST that opened an incident, so a retry opens no other."""

    # Whose key it is: a person's, or a pipeline's integration key's; keys of different callers never meet.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    integration_key = models.ForeignKey(
        IntegrationKey, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=255)
    # A hash of the request as validated: the same key with a different request is refused, not replayed.
    fingerprint = models.CharField(max_length=64)
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="one_incident_per_idempotency_key"),
            models.UniqueConstraint(
                fields=["integration_key", "key"], name="one_incident_per_integration_idempotency_key"
            ),
            models.CheckConstraint(
                condition=Q(user__isnull=False, integration_key__isnull=True)
                | Q(user__isnull=True, integration_key__isnull=False),
                name="idempotency_key_has_one_caller",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} -> incident #{self.incident_id}"
