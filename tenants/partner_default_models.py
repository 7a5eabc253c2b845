"""Partner defaults: the settings a partner (MSP) sets once for every customer that delegated its settings to
it, and which settings each customer set for itself instead."""

from __future__ import annotations

from django.db import models


class PartnerDefault(models.Model):
    """One default setting of a partner; customers that did not set it themselves inherit it."""

    partner = models.ForeignKey("tenants.Partner", on_delete=models.CASCADE, related_name="defaults")
    field = models.CharField(max_length=64)
    value = models.JSONField()

    class Meta:
        ordering = ["field"]
        constraints = [models.UniqueConstraint(fields=["partner", "field"], name="one_default_per_field")]

    def __str__(self) -> str:
        return f"{self.partner}: {self.field} = {self.value!r}"


class TenantOwnSetting(models.Model):
    """A setting a customer set for itself: its partner's default no longer reaches it."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="own_settings")
    field = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "field"], name="own_setting_once")]

    def __str__(self) -> str:
        return f"{self.tenant}: {self.field} set for this customer"


# The settings a partner may set a default for; a customer's own change of one of them is its own.
DEFAULTABLE = ("response_mode", "authorize_on_no_ack", "reminder_minutes", "reminder_count")
