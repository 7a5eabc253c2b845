"""Analysts' notes on an incident: internal ones stay with MDR staff; a customer-visible one is also a
timeline event, which the customer's pages and API show."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from incidents.locks import incident_lock
from incidents.models import Channel, EventKind, Incident, Note, NoteVisibility
from incidents.timeline_writes import timeline_record
from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import User

NOTE_MAX = 20_000


@retried_atomic
def note_add(
    *, incident: Incident, body: str, visibility: str, by: User, channel: str = Channel.ADMIN
) -> Note:
    """Write a note; an internal one is no timeline event, since customers read the whole timeline."""
    text = body.strip()
    if not text:
        raise ValidationError({"body": "A note needs some text."}, code="empty")
    if len(text) > NOTE_MAX:
        raise ValidationError({"body": f"A note is at most {NOTE_MAX} characters."}, code="too_long")
    if visibility not in NoteVisibility.values:
        raise ValidationError({"visibility": "Internal or customer."}, code="bad_visibility")
    locked = incident_lock(incident.pk)
    note = Note.objects.create(incident=locked, body=text, visibility=visibility, author=by)
    if visibility == NoteVisibility.CUSTOMER:
        timeline_record(
            incident=locked,
            kind=EventKind.NOTE_ADDED,
            summary=text,
            by=by,
            channel=channel,
            data={"note": note.pk},
        )
    return note


def notes_for(incident: Incident, *, staff: bool) -> QuerySet[Note]:
    """The notes a reader may see: all of them for MDR staff, the customer-visible ones for the others."""
    notes = incident.notes.select_related("author").order_by("at", "id")
    return notes if staff else notes.filter(visibility=NoteVisibility.CUSTOMER)
