"""What the customer is waited for: actions awaiting its written authorization and its own (or its partner's)
open tasks on active incidents, and since when."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, TypedDict

from django.db.models import Case, DateTimeField, Min, OuterRef, QuerySet, Subquery, When

from incidents.models import ACTIVE_INCIDENT_STATUSES, ActionStatus, Incident, ResponseAction
from tenants.models import Tenant

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

WAITING_STATUSES = (ActionStatus.AWAITING_AUTHORIZATION, ActionStatus.RECOMMENDED)


class WaitingSince(TypedDict):
    """What with_waiting_since adds to each incident."""

    waiting_since: datetime | None


def with_waiting_since(
    incidents: QuerySet[Incident],
) -> QuerySet[WithAnnotations[Incident, WaitingSince]]:
    """Each incident with `waiting_since`: when its oldest action still waiting for the customer was proposed,
    or None when nothing waits or the incident is no longer active. One subquery, no join."""
    oldest = (
        ResponseAction.objects.filter(incident=OuterRef("pk"), status__in=WAITING_STATUSES)
        .order_by("proposed_at")
        .values("proposed_at")[:1]
    )
    return incidents.annotate(
        waiting_since=Case(
            When(status__in=ACTIVE_INCIDENT_STATUSES, then=Subquery(oldest)),
            default=None,
            output_field=DateTimeField(),
        )
    )


def tenant_waiting_since(tenant: Tenant) -> datetime | None:
    """Since when the tenant has been waited for on any active incident, or None."""
    since: datetime | None = ResponseAction.objects.filter(
        incident__tenant=tenant,
        incident__status__in=ACTIVE_INCIDENT_STATUSES,
        status__in=WAITING_STATUSES,
    ).aggregate(since=Min("proposed_at"))["since"]
    return since
