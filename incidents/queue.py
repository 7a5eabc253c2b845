"""The analysts' queue: who owns an incident, and the saved views of active incidents with their counts."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet

from incidents.active_guard import incident_must_be_active
from incidents.locks import incident_lock
from incidents.models import ACTIVE_INCIDENT_STATUSES, Channel, EventKind, Incident
from incidents.timeline_writes import timeline_record
from incidents.waiting import with_waiting_since
from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import User

# The saved views, in the order the queue shows them: (key, label). Each is a filter over active incidents.
QUEUE_VIEWS: list[tuple[str, str]] = [
    ("attention", "Needs attention"),
    ("unassigned", "Unassigned"),
    ("waiting", "Waiting on customer"),
    ("responded", "Customer responded"),
    ("mine", "Mine"),
]


def queue_view_filter(view: str, *, user: User | None = None) -> Q:
    """The condition of one saved view; `waiting` needs the queryset annotated by with_waiting_since, and
    only `mine` needs the user."""
    if view == "mine":
        if user is None:
            raise ValueError("The 'mine' view needs the user whose incidents it shows.")
        return Q(owner_id=user.pk)
    conditions = {
        "attention": Q(needs_attention=True),
        "unassigned": Q(owner__isnull=True),
        "waiting": Q(waiting_since__isnull=False),
        "responded": Q(customer_responded_at__isnull=False),
    }
    return conditions[view]


def queue_view(incidents: QuerySet[Incident], view: str, *, user: User | None) -> QuerySet[Incident]:
    """The active incidents of one saved view; `mine` needs the user (None is no person: an integration key)."""
    active = with_waiting_since(incidents.filter(status__in=ACTIVE_INCIDENT_STATUSES))
    return active.filter(queue_view_filter(view, user=user))


def queue_counts(*, user: User) -> dict[str, int]:
    """How many active incidents each saved view holds, in one query."""
    active = with_waiting_since(Incident.objects.filter(status__in=ACTIVE_INCIDENT_STATUSES))
    return active.aggregate(
        **{key: Count("pk", filter=queue_view_filter(key, user=user)) for key, _ in QUEUE_VIEWS}
    )


def staff_owners() -> QuerySet[User]:
    """Who may own an incident: active MDR staff."""
    return get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")


@retried_atomic
def incident_assign(
    *, incident: Incident, owner: User | None, by: User, channel: str = Channel.ADMIN
) -> Incident:
    """Give the incident to an MDR analyst (or to nobody); the timeline says who gave it to whom."""
    if owner is not None and not (owner.is_staff and owner.is_active):
        raise ValidationError({"owner": "Only active MDR staff can own an incident."}, code="not_staff")
    locked = incident_lock(incident.pk)
    incident_must_be_active(locked, what="assigning it")
    before = locked.owner
    if (before.pk if before else None) == (owner.pk if owner else None):
        return locked
    locked.owner = owner
    locked.save(update_fields=["owner"])
    name = owner.get_username() if owner is not None else "nobody"
    timeline_record(
        incident=locked,
        kind=EventKind.OWNER_CHANGED,
        summary=f"Assigned to {name}" + (f" (was {before.get_username()})" if before else ""),
        by=by,
        channel=channel,
        data={
            "before": before.get_username() if before else None,
            "after": owner.get_username() if owner else None,
        },
    )
    incident.owner = owner
    return locked
