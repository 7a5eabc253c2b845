"""Who receives an owner's monthly report now (a tenant's report, a partner's roll-up of its customers), with
what was sent to each."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from reports.models import ReportRecipient, ReportSend
from tenants.models import Partner, Tenant


def active_recipients(owner: Tenant | Partner) -> QuerySet[ReportRecipient]:
    """The addresses that receive the owner's report now."""
    if isinstance(owner, Tenant):
        return ReportRecipient.objects.filter(tenant=owner, active=True)
    return ReportRecipient.objects.filter(partner=owner, active=True)


def recipients_with_sends(owner: Tenant | Partner) -> QuerySet[ReportRecipient]:
    """The addresses that receive the owner's report, each with its sends, the newest month first."""
    newest_first = ReportSend.objects.order_by("-period_start", "-number")
    return active_recipients(owner).prefetch_related(Prefetch("sends", queryset=newest_first))
