"""Protected assets: the targets (and action types) a customer lists that MDR Ops never acts on without its
written authorization, in Authorize mode and under the fallback alike."""

from __future__ import annotations

from django.db import models


class ProtectedKind(models.TextChoices):
    HOST = "host", "Host name or pattern"
    NETWORK = "network", "IP address or range"
    ACCOUNT = "account", "Account"
    ACTION_TYPE = "action_type", "Action type never performed automatically"


class ProtectedTarget(models.Model):
    """One thing a tenant protects: MDR Ops acts on it only with the customer's written authorization."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="protected_targets")
    kind = models.CharField(max_length=16, choices=ProtectedKind.choices)
    value = models.CharField(
        max_length=255,
        help_text="A host name or pattern (dc-*), an address or range (10.0.0.0/24), an account, or an "
        "action type's code.",
    )
    note = models.CharField(max_length=200, blank=True, help_text="Why it is protected, for MDR Ops.")
    # Set when the row came from the partner's default list (tenants.partner_protected): the partner's
    # changes reach it, and the customer drops it only by opting out of the partner's list.
    from_partner = models.ForeignKey(
        "tenants.Partner", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["kind", "value"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "kind", "value"], name="protected_target_once"),
        ]

    def __str__(self) -> str:
        return f"{ProtectedKind(self.kind).label}: {self.value}"
