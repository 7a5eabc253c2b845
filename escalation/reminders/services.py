"""Reminders: while an incident waits for the customer (written authorization after an acknowledgment, or
its own or its partner's tasks), the people concerned are reminded every `reminder_minutes`,
`reminder_count` times, as the tenant's policy had them when the incident opened (DESIGN rule 9: a later
change applies to later incidents, or to this one once an analyst re-applies the policy); then the incident
is flagged to analysts. They stop as soon as nothing waits.

A series is a row with a state and next_at: the sweeper starts series, ends those with nothing left to
wait for, and nudges the due ones. A step locks the incident, then the series, checks it is due and still
waited for, and claims one row per contact and channel (unique), each sent by its own task after commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from escalation.emails.services import SENDER_LABEL, mail_hand_over
from escalation.links.tokens import LinkPurpose, link_url
from escalation.message_events import message_told
from escalation.reminders.models import (
    SERIES_TRANSITIONS,
    Reminder,
    ReminderChannel,
    ReminderKind,
    ReminderSeries,
    SeriesState,
)
from escalation.reminders.selectors import (
    incident_waits,
    incidents_to_remind,
    reminder_recipients,
    series_no_longer_waiting,
    waiting_actions,
)
from escalation.reminders.texts import reminder_text_claim
from escalation.reminders.words import reminder_headline
from incidents.attention import incident_flag
from incidents.locks import incident_lock
from incidents.models import Incident
from incidents.policy import PolicySnapshot
from incidents.waiting import with_waiting_since
from mdrportal.core import task_names
from mdrportal.core.nudges import due_locked, nudge
from mdrportal.core.outbox import (
    Delivered,
    NotDelivered,
    OutboxChannel,
    OutboxState,
    outbox_fail_stuck,
    outbox_nudge,
    outbox_resend_unsent,
    outbox_send,
)
from mdrportal.core.retry import retried_atomic
from tenants.channels import ContactChannel, wants
from tenants.models import Contact

log = logging.getLogger(__name__)


def reminder_interval(policy: PolicySnapshot) -> timedelta:
    """The time between two reminders under an incident's policy."""
    return timedelta(seconds=policy.reminder_minutes * settings.REMINDER_MINUTE_SECONDS)


def _set_state(series: ReminderSeries, state: str) -> None:
    if state not in SERIES_TRANSITIONS[series.state]:
        raise ValidationError(f"Series #{series.pk} cannot go from {series.state} to {state}.")
    series.state = state
    if state == SeriesState.ENDED:
        series.ended_at = timezone.now()
    series.save(update_fields=["state", "ended_at"])


def _lock(series_id: int) -> tuple[Incident, ReminderSeries] | None:
    """Lock the incident, then the series (the order every incident-wide write takes)."""
    incident_id = ReminderSeries.objects.filter(pk=series_id).values_list("incident_id", flat=True).first()
    if incident_id is None:
        return None
    incident = incident_lock(incident_id)
    series = ReminderSeries.objects.select_for_update(no_key=True).get(pk=series_id)
    series.incident = incident
    return incident, series


def series_start(incident: Incident, kind: str, *, since: datetime) -> ReminderSeries | None:
    """Start reminding about what the incident has waited for since `since`: the first reminder is due one
    interval after that. None when a series of the kind is already open."""
    try:
        with transaction.atomic():
            return ReminderSeries.objects.create(
                incident=incident, kind=kind, next_at=since + reminder_interval(PolicySnapshot.read(incident))
            )
    except IntegrityError:
        return None  # another sweeper started it


@retried_atomic
def series_end_if_done(series_id: int) -> bool:
    """End an open series whose incident waits for nothing of its kind any more. True when it ended."""
    locked = _lock(series_id)
    if locked is None:
        return False
    incident, series = locked
    if series.state == SeriesState.ENDED or incident_waits(incident, series.kind):
        return False
    _set_state(series, SeriesState.ENDED)
    return True


@retried_atomic
def reminder_series_step(series_id: int) -> int:
    """One due step of a series: the next reminder to everyone concerned, or the flag after the last one.

    Returns how many reminders were claimed. A stale or early delivery does nothing: the row says so.
    """
    locked = _lock(series_id)
    if locked is None:
        return 0
    incident, series = locked
    now = timezone.now()
    if series.state != SeriesState.ACTIVE or series.next_at > now:
        return 0
    if not incident_waits(incident, series.kind):
        _set_state(series, SeriesState.ENDED)
        return 0
    policy = PolicySnapshot.read(incident)
    if series.sent >= policy.reminder_count:
        _set_state(series, SeriesState.FLAGGED)
        reminders_could_not_get_an_answer(series, incident)
        return 0
    series.sent += 1
    series.next_at = now + reminder_interval(policy)
    series.save(update_fields=["sent", "next_at"])
    claimed = 0
    for contact in reminder_recipients(incident, series.kind):
        claimed += len(remind_contact(contact, series=series))
    return claimed


def remind_contact(contact: Contact, *, series: ReminderSeries) -> list[Reminder]:
    """Claim the series' current reminder to one contact on each channel that reaches it; each is sent by
    its own task once the step commits. A claim made before (a repeated step) is not made again."""
    claimed = []
    if contact.email and wants(contact, ContactChannel.EMAIL):
        claimed.append(_claim(series, contact, ReminderChannel.EMAIL, contact.email))
    claimed.append(reminder_text_claim(series, contact))
    return [r for r in claimed if r is not None]


def _claim(series: ReminderSeries, contact: Contact, channel: str, to: str) -> Reminder | None:
    reminder, created = Reminder.objects.get_or_create(
        series=series, number=series.sent, contact=contact, channel=channel, defaults={"to": to}
    )
    if not created:
        return None
    nudge_send(reminder.pk)
    return reminder


def reminders_could_not_get_an_answer(series: ReminderSeries, incident: Incident) -> None:
    """Flag the incident for analysts once every reminder went unanswered."""
    if incident.needs_attention:
        return  # already in front of an analyst; the reminders themselves are on the timeline
    incident_flag(
        incident=incident,
        reason=f"{series.sent} reminders went unanswered ({series.get_kind_display().lower()}): an analyst "
        "should follow up with the customer.",
    )


def nudge_send(reminder_id: int) -> None:
    outbox_nudge(REMINDERS, reminder_id)


def nudge_step(series_id: int) -> None:
    nudge(task_names.REMINDER_SERIES_STEP, series_id)


# Sending -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComposedReminder:
    subject: str
    text: str
    html: str


def reminder_compose(reminder: Reminder) -> ComposedReminder:
    """The reminder as things stand now: what still waits, with a newly signed link for approvers."""
    series, contact = reminder.series, reminder.contact
    incident = with_waiting_since(Incident.objects.filter(pk=series.incident_id)).select_related(
        "tenant__partner"
    )[0]
    tenant = incident.tenant
    actions = list(
        waiting_actions(series.kind).filter(incident=incident).select_related("action_type").order_by("pk")
    )
    headline = reminder_headline(series.kind, len(actions), tenant.name)
    context: dict[str, object] = {
        "incident": incident,
        "tenant": tenant,
        "partner": tenant.partner,
        "contact": contact,
        "actions": actions,
        "headline": headline,
        "waiting_since": incident.waiting_since,
        "zone": contact.zone,  # the reader's: their tenant's, or their partner's
        "number": reminder.number,
        "count": PolicySnapshot.read(incident).reminder_count,
        "link_max_age_hours": settings.LINK_MAX_AGE_HOURS,
    }
    if series.kind == ReminderKind.AUTHORIZATION:
        context["portal_hint"] = "Approvers can also decide in the portal:"
        context["portal_url"] = settings.PUBLIC_BASE_URL + reverse("incidents:approvals")
        if contact.can_authorize and contact.tenant_id == incident.tenant_id and actions:
            context["authorize_url"] = link_url(
                purpose=LinkPurpose.AUTHORIZE,
                tenant_id=tenant.pk,
                contact_id=contact.pk,
                incident_id=incident.pk,
                action_ids=[a.pk for a in actions],
            )
    else:
        context["portal_hint"] = "Mark each task done or not done, with a note, in the portal:"
        context["portal_url"] = settings.PUBLIC_BASE_URL + reverse("incidents:tasks")
    subject = (
        f"[{incident.get_severity_display()}] {tenant.name}: reminder {reminder.number}: "
        f"{headline.rstrip('.')} ({incident.title}, incident #{incident.pk})"
    )
    return ComposedReminder(
        subject=" ".join(subject.split())[:300],
        text=render_to_string("email/reminder.txt", context),
        html=render_to_string("email/reminder.html", context),
    )


class ReminderEmailChannel(OutboxChannel):
    """Reminders by email: composed at send time, skipped when nothing waits any more, told on the timeline."""

    model = Reminder
    task = task_names.REMINDER_SEND
    related = ("series__incident", "contact")

    def lock(self, item: Reminder) -> None:
        incident_lock(item.series.incident_id)  # it writes the timeline: the incident's lock first

    def cancel_reason(self, item: Reminder) -> str:
        series = item.series
        if series.state == SeriesState.ENDED or not incident_waits(series.incident, series.kind):
            # Answered between the claim and now: a reminder of something done would only confuse.
            return "nothing awaited any more"
        return ""

    def deliver(self, item: Reminder) -> Delivered:
        try:
            composed = reminder_compose(item)
        except Exception as error:  # noqa: BLE001 - whatever broke, the row must not stay "sending"
            raise NotDelivered(f"could not compose it: {error!r}") from error
        mail_hand_over(
            subject=composed.subject,
            text=composed.text,
            html=composed.html,
            to=item.to,
            incident_id=item.series.incident_id,
        )
        return Delivered(fields={"subject": composed.subject})

    def tell(self, item: Reminder, facts: dict[str, object]) -> None:
        if item.state == OutboxState.CANCELED:
            return  # nothing went and nothing waits: the timeline already says why
        contact, series = item.contact, item.series
        if item.state == OutboxState.SENT:
            summary = f"Reminder {item.number} sent to {contact.name} <{item.to}>: {item.subject}"
        else:
            summary = f"Reminder {item.number} to {contact.name} <{item.to}> could not be sent: {item.error}"
        message_told(
            item,
            incident=series.incident,
            summary=summary,
            sender=SENDER_LABEL,
            reminder=item.pk,
            series=series.pk,
            kind="reminder",
            about=series.kind,
            number=item.number,
            channel=item.channel,
            **({"error": item.error} if item.error else {}),
        )


REMINDERS = ReminderEmailChannel()


def reminder_send(reminder_id: int) -> str:
    """Send one claimed reminder, at most once; canceled when nothing waits any more. Returns its state, or
    "" when another delivery had it. Must run outside any transaction: the mail server is called here."""
    return outbox_send(REMINDERS, reminder_id)


# The sweep -----------------------------------------------------------------------------------------


def reminders_sweep(*, batch: int = 200) -> dict[str, int]:
    """Start the series now due, end those with nothing left to wait for, nudge the due steps and the
    reminders whose nudge was lost; a reminder whose sender died mid-send ends as failed, not resent."""
    started = 0
    for kind in ReminderKind.values:
        waiting = dict(incidents_to_remind(kind, batch=batch))
        for incident in Incident.objects.select_related("tenant").in_bulk(waiting).values():
            started += series_start(incident, kind, since=waiting[incident.pk]) is not None
    ended = sum(series_end_if_done(pk) for pk in series_no_longer_waiting(batch=batch))
    with transaction.atomic():
        due = due_locked(ReminderSeries.objects.filter(state=SeriesState.ACTIVE), due="next_at", batch=batch)
        for series_id in due:
            nudge_step(series_id)  # duplicates are dropped: the first step moves next_at on
    unsent = outbox_resend_unsent(REMINDERS, batch=batch)
    # Failed, told on the timeline like any other outcome; never sent again (it may have been delivered).
    interrupted = outbox_fail_stuck(REMINDERS, batch=batch)
    return {
        "started": started,
        "ended": ended,
        "due": len(due),
        "unsent": len(unsent),
        "interrupted": interrupted,
    }
