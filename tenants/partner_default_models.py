"""Partner defaults: the settings a partner (MSP) sets once for every customer that delegated its settings to
it, and which settings each customer set for itself instead."""

from __future__ import annotations

from django.db import models

from tenants.protected_models import ProtectedKind


class PartnerDefault(models.Model):
    """One default setting of a partner; customers that did not set it themselves inherit it."""

    partner = models.ForeignKey("tenants.Partner", on_delete=models.CASCADE, related_name="defaults")
    field = models.CharField(max_length=80)
    value = models.JSONField()

    class Meta:
        ordering = ["field"]
        constraints = [models.UniqueConstraint(fields=["partner", "field"], name="one_default_per_field")]

    def __str__(self) -> str:
        return f"{self.partner}: {self.field} = {self.value!r}"


class TenantOwnSetting(models.Model):
    """A setting a customer set for itself: its partner's default no longer reaches it."""

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="own_settings")
    field = models.CharField(max_length=80)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "field"], name="own_setting_once")]

    def __str__(self) -> str:
        return f"{self.tenant}: {self.field} set for this customer"


class PartnerProtectedTarget(models.Model):
    """One thing a partner protects by default: every customer that inherits its list protects it too."""

    partner = models.ForeignKey("tenants.Partner", on_delete=models.CASCADE, related_name="protected_targets")
    kind = models.CharField(max_length=16, choices=ProtectedKind.choices)
    value = models.CharField(max_length=255)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["kind", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "kind", "value"], name="partner_protected_target_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{ProtectedKind(self.kind).label}: {self.value}"


# The settings a partner may set a default for; a customer's own change of one of them is its own.
DEFAULTABLE = ("response_mode", "authorize_on_no_ack", "reminder_minutes", "reminder_count")
# A default performer of one action type is the field PERFORMER_PREFIX + the type's code.
PERFORMER_PREFIX = "performer-"
# The partner's protected-asset list as a whole: a customer inherits it unless it opted out explicitly.
PROTECTED_LIST = "protected_assets"


def performer_field(action_code: str) -> str:
    return PERFORMER_PREFIX + action_code


def performer_code(field: str) -> str | None:
    """The action type a default performer field names, or None for any other field."""
    return field.removeprefix(PERFORMER_PREFIX) if field.startswith(PERFORMER_PREFIX) else None
