"""What became of a message (an email, a text, a reminder) as its incident's timeline tells it."""

from __future__ import annotations

from typing import Any

from escalation.models import EmailNotification, Reminder, TextMessage
from incidents.models import Channel, EventKind, Incident
from incidents.timeline_writes import timeline_record


def message_told(
    row: EmailNotification | TextMessage | Reminder,
    /,
    *,
    incident: Incident,
    summary: str,
    sender: str,
    **facts: Any,
) -> None:
    """One "notification sent" event about an outbox row: the summary, who sent it, whom it went to, the
    row's state as its outcome, and the channel's own facts."""
    timeline_record(
        incident=incident,
        kind=EventKind.NOTIFICATION_SENT,
        summary=summary,
        label=sender,
        channel=Channel.SYSTEM,
        data={**facts, "contact": row.contact_id, "to": row.to, "outcome": row.state},
    )
