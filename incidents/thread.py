"""The thread between the customer's users and MDR Ops on an incident: each message is a timeline event; a
customer's message marks the incident "customer responded" until MDR Ops answers. A message authorizes
nothing (DESIGN rule 4: written authorization is its own record)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from incidents.locks import incident_lock
from incidents.models import Channel, EventKind, Incident, Message, MessageSide
from incidents.timeline_writes import timeline_record
from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import User

MESSAGE_MAX = 10_000


@retried_atomic
def message_post(
    *, incident: Incident, body: str, side: str, by: User, channel: str = Channel.PORTAL
) -> Message:
    """Add a message to the thread; the caller has checked that `by` speaks for that side."""
    text = body.strip()
    if not text:
        raise ValidationError({"body": "Write a message."}, code="empty")
    if len(text) > MESSAGE_MAX:
        raise ValidationError({"body": f"A message is at most {MESSAGE_MAX} characters."}, code="too_long")
    if side not in MessageSide.values:
        raise ValidationError({"side": "Customer or MDR Ops."}, code="bad_side")
    locked = incident_lock(incident.pk)
    message = Message.objects.create(incident=locked, side=side, author=by, body=text)
    locked.customer_responded_at = message.at if side == MessageSide.CUSTOMER else None
    locked.save(update_fields=["customer_responded_at"])
    timeline_record(
        incident=locked,
        kind=EventKind.MESSAGE,
        summary=text,
        by=by,
        channel=channel,
        data={"message": message.pk, "side": side},
    )
    incident.customer_responded_at = locked.customer_responded_at
    return message


def thread(incident: Incident) -> QuerySet[Message]:
    return incident.messages.select_related("author").order_by("at", "id")
