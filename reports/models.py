"""Who receives the monthly report of a tenant (or the roll-up of a partner's customers), and each report
sent: one row per recipient and period, claimed before the email leaves, so it leaves once."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from mdrportal.core.outbox import OutboxItem
from tenants.models import Partner, Tenant


class ReportRecipient(models.Model):
    """An address that receives the monthly report of one tenant, or the roll-up of one partner's customers."""

    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="report_recipients"
    )
    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.CASCADE, related_name="report_recipients"
    )
    email = models.EmailField()
    active = models.BooleanField(default=True, help_text="Off: this address receives no monthly report.")
    created_at = models.DateTimeField(default=timezone.now)
    active_since = models.DateTimeField(
        default=timezone.now,
        help_text="When it was last added: it receives the months that end after this (earlier ones on request).",
    )

    class Meta:
        ordering = ["email", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(tenant__isnull=False, partner__isnull=True)
                | Q(tenant__isnull=True, partner__isnull=False),
                name="report_recipient_of_tenant_or_partner",
            ),
            models.UniqueConstraint(fields=["tenant", "email"], name="one_report_recipient_per_tenant"),
            models.UniqueConstraint(fields=["partner", "email"], name="one_report_recipient_per_partner"),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.tenant or self.partner})"


class MonthlyReport(models.Model):
    """Whether a tenant's recipients get the monthly email; without a row they do. Turned back on, it sends
    the periods due from then on, never those that ended while it was off."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="monthly_report")
    enabled = models.BooleanField(default=True)
    changed_at = models.DateTimeField(default=timezone.now, help_text="When it was last turned on or off.")

    def __str__(self) -> str:
        return f"monthly report of {self.tenant}: {'on' if self.enabled else 'off'}"


class ReportSend(OutboxItem):
    """One monthly report to one recipient for one period: number 1 is the scheduled one, later numbers are
    resends someone asked for. The unique constraint is the claim: two beats or workers send it once."""

    recipient = models.ForeignKey(ReportRecipient, on_delete=models.CASCADE, related_name="sends")
    period_start = models.DateField(help_text="The first day of the month reported.")
    number = models.PositiveSmallIntegerField(default=1)
    requested_by = models.CharField(max_length=150, blank=True, help_text="Who asked for a resend.")

    class Meta:
        ordering = ["-period_start", "recipient", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "period_start", "number"], name="one_report_send_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"report of {self.period_start:%Y-%m} to {self.recipient.email} (#{self.number})"
