"""Reply codes: each text that invites a reply carries a short code naming its alert (one incident, one
contact), so "1 4821" acknowledges exactly that incident whoever else texts the same number.

An alert is open while its incident can still be acknowledged and nobody has acknowledged it. A code is held
by one text per number at a time (a unique constraint); codes of alerts no longer open are freed lazily, by
the next text claimed for that number, and keep naming their old alert so a late reply is told what became
of it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from secrets import randbelow
from typing import TYPE_CHECKING, TypedDict

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from escalation.models import Acknowledgment, TextKind, TextMessage
from escalation.partners.models import TaskAcknowledgment
from incidents.customer_tasks import OPEN_TASK_STATUS
from incidents.models import ACTIVE_INCIDENT_STATUSES, Incident
from mdrportal.core.outbox import OutboxState
from tenants.models import Contact

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

# No leading zero: a code is read and typed as a number.
FIRST_CODE, LAST_CODE = 1000, 9999
# Rows nobody else writes: the sender and the sweeper change only claimed and sending rows, under their own
# locks, so freeing a code never waits for them.
SETTLED = (OutboxState.SENT, OutboxState.FAILED, OutboxState.CANCELED)
# Another text to the number took the same code at the same moment: choose again, a few times.
CHOICES = 5
# A freed code is not given to a new alert at the number this soon after it was texted.
REUSE_AFTER = timedelta(days=30)


class Acked(TypedDict):
    """Whether somebody acknowledged the incident of a text, as text_with_code reads it (`acknowledged`)."""

    acked: bool


def acknowledged(incident_field: str = "incident") -> Exists:
    """Somebody acknowledged the incident the row names, by any channel."""
    return Exists(Acknowledgment.objects.filter(incident=OuterRef(incident_field)))


def held_codes(number: str) -> QuerySet[TextMessage]:
    """The texts to the number that hold their code: no two of them share one (the unique constraint)."""
    return TextMessage.objects.filter(to=number, code_freed_at__isnull=True).exclude(reply_code="")


def alert_is_open() -> Q:
    """The text's incident can still be acknowledged and nobody has acknowledged it; a partner's text, while
    its task is open and nobody at the partner acknowledged it (the customer does not answer for them)."""
    partner = Q(kind=TextKind.PARTNER_TASK)
    task_answered = Exists(TaskAcknowledgment.objects.filter(run=OuterRef("run")))
    task_open = Q(run__task__status=OPEN_TASK_STATUS) & ~Q(task_answered)
    return Q(incident__status__in=ACTIVE_INCIDENT_STATUSES) & (
        (partner & task_open) | (~partner & ~Q(acknowledged()))
    )


def codes_free_closed(number: str) -> int:
    """Free the codes of alerts to the number that are no longer open."""
    return (
        held_codes(number)
        .filter(state__in=SETTLED)
        .exclude(alert_is_open())
        .update(code_freed_at=timezone.now())
    )


def text_create_coded(
    *, contact: Contact, incident: Incident, write: Callable[[str], str], **fields: object
) -> TextMessage:
    """Create a text that invites a reply, inside the caller's transaction: `write` makes its body from the
    code. A later text about an alert already texted repeats its code (and holds none itself)."""
    number = contact.phone.as_e164
    codes_free_closed(number)
    same = Q(incident=incident, contact=contact)
    if fields.get("kind") == TextKind.PARTNER_TASK:
        same &= Q(run=fields.get("run"))  # each task of the partner is an alert of its own
    same_alert = held_codes(number).filter(same).values_list("reply_code", flat=True).first()
    if same_alert:
        return TextMessage.objects.create(
            incident=incident,
            contact=contact,
            to=number,
            body=write(same_alert),
            reply_code=same_alert,
            code_freed_at=timezone.now(),
            **fields,
        )
    taken = codes_to_avoid(number)
    for _ in range(CHOICES):
        code = _free_code(taken)
        try:
            with transaction.atomic():
                return TextMessage.objects.create(
                    incident=incident, contact=contact, to=number, body=write(code), reply_code=code, **fields
                )
        except IntegrityError:
            taken.add(code)
    raise IntegrityError(f"no free reply code for a text to {number} after {CHOICES} tries")


def codes_to_avoid(number: str) -> set[str]:
    """The codes held at the number, and while there are few enough, the codes it was texted lately: a late
    reply to a closed alert then finds its code stale rather than naming a newer alert."""
    held = set(held_codes(number).values_list("reply_code", flat=True))
    lately = TextMessage.objects.filter(to=number, claimed_at__gte=timezone.now() - REUSE_AFTER)
    avoided = held | set(lately.exclude(reply_code="").values_list("reply_code", flat=True))
    return avoided if len(avoided) <= (LAST_CODE - FIRST_CODE) // 2 else held


def _free_code(taken: set[str]) -> str:
    if len(taken) > (LAST_CODE - FIRST_CODE) // 2:
        raise IntegrityError("half the reply codes of a number are held: its alerts are never closed")
    # Random, not the next free one: two texts claimed at once for a number rarely pick the same code.
    while True:
        code = str(FIRST_CODE + randbelow(LAST_CODE - FIRST_CODE + 1))
        if code not in taken:
            return code


def open_alerts(number: str) -> list[TextMessage]:
    """The open alerts texted to the number, one text (the code's holder) each, oldest first.

    The contact must still have that number, and a text with the code must have gone out: a code nobody
    received names nothing.
    """
    delivered = TextMessage.objects.filter(
        to=OuterRef("to"),
        reply_code=OuterRef("reply_code"),
        incident=OuterRef("incident"),
        contact=OuterRef("contact"),
        state=OutboxState.SENT,
    )
    return list(
        held_codes(number)
        .filter(alert_is_open(), Exists(delivered), contact__phone=number)
        .select_related("contact__tenant", "incident__tenant")
        .order_by("claimed_at", "id")
    )


def text_with_code(number: str, code: str) -> WithAnnotations[TextMessage, Acked] | None:
    """The text to the number that holds the code, or that held it last; None when no text to it had it."""
    return (
        TextMessage.objects.filter(to=number, reply_code=code)
        .select_related("contact__tenant", "incident__tenant")
        .annotate(acked=acknowledged())
        .order_by(F("code_freed_at").desc(nulls_first=True), "-claimed_at", "-id")
        .first()
    )
