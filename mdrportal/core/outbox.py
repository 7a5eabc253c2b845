"""The outbox: every message the product sends (an email, a text, a reminder, a monthly report) is a row,
claimed before it is sent, sent at most once, and recorded.

A channel creates its rows in the caller's transaction and nudges a send after commit. `outbox_send` takes a
row from claimed to sending with a conditional UPDATE that must change exactly one row (of any number of
deliveries of the task, one sends), lets the channel deliver it outside any transaction and records sent,
failed or canceled, with what the channel tells of it (its timeline event). The sweep fails the rows whose
sender died mid-send (never sent again: the provider may have taken them) and nudges the claimed rows whose
nudge was lost. What differs between channels (composing, the provider, the locks, the words) is the
channel's; the states, the claim, the timeouts and the record are here, once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from mdrportal.core.nudges import nudge
from mdrportal.core.retry import retried_atomic

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted; may or may not have been delivered"


class OutboxState(models.TextChoices):
    CLAIMED = "claimed", "Claimed, not sent yet"
    SENDING = "sending", "Being handed over"
    SENT = "sent", "Accepted by the provider"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Not sent"


# Who may move a row where: only the claim leaves claimed, only the record (or the sweep) leaves sending.
OUTBOX_TRANSITIONS: dict[str, frozenset[str]] = {
    OutboxState.CLAIMED: frozenset({OutboxState.SENDING}),
    OutboxState.SENDING: frozenset({OutboxState.SENT, OutboxState.FAILED, OutboxState.CANCELED}),
    OutboxState.SENT: frozenset(),
    OutboxState.FAILED: frozenset(),
    OutboxState.CANCELED: frozenset(),
}


class OutboxItem(models.Model):
    """Base of a row that is one message to one address: claimed, then sent at most once."""

    state = models.CharField(max_length=16, choices=OutboxState.choices, default=OutboxState.CLAIMED)
    error = models.TextField(blank=True)
    provider_id = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="The id the provider gave the message, if any."
    )
    # Reset when sending starts: the sweep measures a stuck send from then, a lost nudge from the claim.
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True


class NotDelivered(Exception):  # noqa: N818 - it names an outcome, as Django's ObjectDoesNotExist does
    """The channel could not deliver the message; `fields` are columns to keep all the same (its subject)."""

    def __init__(self, error: str, *, fields: dict[str, Any] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.fields = fields or {}


@dataclass
class Delivered:
    """What a channel reports of a delivered message: the provider's id, columns to keep, facts to tell."""

    provider_id: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)


class OutboxChannel:
    """One way out (emails, texts...): its rows, its task, and what it does that no other channel does."""

    model: ClassVar[type[OutboxItem]]
    task: ClassVar[str]  # the Celery task that sends one row by id
    related: ClassVar[tuple[str, ...]] = ()  # what delivering and telling read, in one query

    def lock(self, item: Any) -> None:
        """Take the locks the record needs before it writes (the incident's, when it writes the timeline)."""

    def cancel_reason(self, item: Any) -> str:
        """Why the claimed row must not go out any more (the contact stopped it, nothing waits); "" if none."""
        return ""

    def deliver(self, item: Any) -> Delivered:
        """Compose and hand the message over, outside any transaction; NotDelivered when it did not go."""
        raise NotImplementedError

    def tell(self, item: Any, facts: dict[str, Any]) -> None:
        """Say what became of the row (its timeline event), in the record's transaction."""


def outbox_nudge(channel: OutboxChannel, item_id: int) -> None:
    """Ask a worker to send the row once this transaction commits; a lost nudge waits for the sweep."""
    nudge(channel.task, item_id)


def outbox_send(channel: OutboxChannel, item_id: int) -> str:
    """Send one claimed row, at most once. Returns its new state, or "" when another delivery had it.

    Must run outside any transaction: the provider is called between the claim and the record.
    """
    model = channel.model
    taken = model._default_manager.filter(pk=item_id, state=OutboxState.CLAIMED).update(
        state=OutboxState.SENDING, claimed_at=timezone.now()
    )
    if taken != 1:
        return ""
    item = model._default_manager.select_related(*channel.related).get(pk=item_id)
    reason = channel.cancel_reason(item)
    if reason:
        outbox_record(channel, item, OutboxState.CANCELED, error=reason)
        return OutboxState.CANCELED
    try:
        delivered = channel.deliver(item)
    except NotDelivered as failure:
        # Not retried, on purpose: at most once. The provider may have taken it before the error reached us
        # (a timeout after the request went); the failure is told, and later steps still reach the person.
        log.warning("%s %s could not be sent: %s", model.__name__, item_id, failure.error)
        outbox_record(channel, item, OutboxState.FAILED, error=failure.error, fields=failure.fields)
        return OutboxState.FAILED
    outbox_record(
        channel,
        item,
        OutboxState.SENT,
        provider_id=delivered.provider_id,
        fields=delivered.fields,
        facts=delivered.facts,
    )
    return OutboxState.SENT


@retried_atomic
def outbox_record(
    channel: OutboxChannel,
    item: Any,
    state: str,
    *,
    error: str = "",
    provider_id: str = "",
    fields: dict[str, Any] | None = None,
    facts: dict[str, Any] | None = None,
    sending_since_before: datetime | None = None,
) -> bool:
    """Record what became of a row being sent, and tell it; False when it was no longer sending (the sweep
    failed it meanwhile and told it then)."""
    assert state in OUTBOX_TRANSITIONS[OutboxState.SENDING]
    channel.lock(item)
    changes: dict[str, Any] = {
        "state": state,
        "error": error,
        "provider_id": provider_id[:64],
        **(fields or {}),
    }
    if state == OutboxState.SENT:
        changes["sent_at"] = timezone.now()
    rows = channel.model._default_manager.filter(pk=item.pk, state=OutboxState.SENDING)
    if sending_since_before is not None:
        rows = rows.filter(claimed_at__lt=sending_since_before)
    if rows.update(**changes) != 1:
        log.warning("%s %s was no longer sending when it became %s", channel.model.__name__, item.pk, state)
        return False
    for name, value in changes.items():
        setattr(item, name, value)
    channel.tell(item, facts or {})
    return True


def outbox_fail_stuck(channel: OutboxChannel, *, batch: int = 200) -> int:
    """Fail the rows stuck in sending (their worker died mid-send), told like any failure and never sent
    again: whether the provider got the message is unknown, and sending again could deliver it twice."""
    cutoff = timezone.now() - settings.OUTBOX_STUCK_AFTER
    stuck = channel.model._default_manager.filter(
        state=OutboxState.SENDING, claimed_at__lt=cutoff
    ).select_related(*channel.related)
    return sum(
        outbox_record(channel, item, OutboxState.FAILED, error=INTERRUPTED, sending_since_before=cutoff)
        for item in stuck.order_by("pk")[:batch]
    )


def outbox_unsent(channel: OutboxChannel, *, before: datetime | None = None) -> models.QuerySet[Any]:
    """The claimed rows whose own nudge seems lost: claimed before `before` (by default, longer ago than
    OUTBOX_RESEND_UNSENT_AFTER; the nudge is normally in flight a moment), oldest first."""
    cutoff = before or timezone.now() - settings.OUTBOX_RESEND_UNSENT_AFTER
    # Rows of the channel's own model (Any: the caller knows which).
    rows: models.QuerySet[Any] = channel.model._default_manager.filter(
        state=OutboxState.CLAIMED, claimed_at__lt=cutoff
    )
    return rows.order_by("pk")


def outbox_resend_unsent(channel: OutboxChannel, *, batch: int = 200) -> list[int]:
    """Nudge again the claimed rows whose own nudge seems lost; their ids."""
    unsent = list(outbox_unsent(channel).values_list("pk", flat=True)[:batch])
    for item_id in unsent:
        outbox_nudge(channel, item_id)
    return unsent
