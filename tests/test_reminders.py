"""Reminder series step by step, on the real database: when a series starts, whom a step reminds, that a
repeated step reminds nobody twice, that they stop as soon as nothing waits, and the flag after the last.
Time moves by setting a series' next_at into the past; the worker's own pace is tested end to end in
tests/test_reminders_integration.py."""

from __future__ import annotations

import importlib
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from escalation.acknowledgments.services import acknowledgment_record
from escalation.models import TextKind, TextMessage
from escalation.reminders.models import Reminder, ReminderKind, ReminderSeries, SeriesState
from escalation.reminders.selectors import reminder_recipients
from escalation.reminders.services import reminder_send, reminder_series_step, reminders_sweep
from escalation.runs.lifecycle import incident_change_status
from incidents.actions import action_cancel
from incidents.models import Authorization, Channel, EventKind, Incident, IncidentStatus
from incidents.services import incident_reapply_policy
from mdrportal.core.outbox import INTERRUPTED, OutboxState
from tenants.models import Performer, Role
from tenants.services import contact_create, tenant_update_settings
from tests.factories import (
    make_analyst,
    make_incident,
    make_member,
    make_partner,
    make_tenant,
    portal_decision,
    propose,
)
from tests.threads import at_once

pytestmark = pytest.mark.django_db


def series_of(incident: Incident, kind: str = ReminderKind.AUTHORIZATION) -> ReminderSeries:
    return ReminderSeries.objects.get(incident=incident, kind=kind)


def come_due(series: ReminderSeries) -> None:
    ReminderSeries.objects.filter(pk=series.pk).update(next_at=timezone.now() - timedelta(seconds=1))


def awaiting_after_ack(count: int = 4) -> tuple[Incident, object, object]:
    tenant = make_tenant(phones=2)
    tenant_update_settings(tenant=tenant, by=None, reminder_minutes=10, reminder_count=count)
    approver = make_member(tenant, Role.APPROVER)
    incident = make_incident(tenant)
    acknowledgment_record(incident=incident, channel=Channel.PORTAL, user=approver)
    return incident, propose(incident, "isolate_endpoint"), approver


def test_written_authorization_is_reminded_of_only_once_someone_acknowledged() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    propose(incident, "isolate_endpoint")
    reminders_sweep()
    assert not ReminderSeries.objects.filter(incident=incident).exists()  # the call tree is still looking

    ack = acknowledgment_record(
        incident=incident, channel=Channel.PORTAL, user=make_member(tenant, Role.APPROVER)
    )
    assert reminders_sweep()["started"] == 1
    series = series_of(incident)
    assert series.state == SeriesState.ACTIVE
    # The wait for a written authorization began with the acknowledgment (the action was proposed before).
    assert series.next_at == ack.at + timedelta(minutes=15)
    assert reminders_sweep()["started"] == 0  # one open series per kind


def test_the_first_reminder_counts_from_when_the_wait_began_not_from_when_a_sweeper_noticed() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    acknowledgment_record(incident=incident, channel=Channel.PORTAL, user=make_member(tenant, Role.APPROVER))
    action = propose(incident, "isolate_endpoint")  # proposed after the acknowledgment: the wait begins here
    time.sleep(0.05)  # the sweeper notices a moment later
    assert reminders_sweep()["started"] == 1
    assert series_of(incident).next_at == action.proposed_at + timedelta(minutes=15)


def test_a_due_step_claims_one_reminder_per_contact_who_may_authorize_and_a_repeat_claims_none() -> None:
    incident, _, _ = awaiting_after_ack()
    contact_create(tenant=incident.tenant, by=None, name="Reader", email="reader@example.com")
    contact_create(tenant=incident.tenant, by=None, name="No mail", phone="+12025550999", can_authorize=True)
    reminders_sweep()
    series = series_of(incident)
    assert reminder_series_step(series.pk) == 0  # not due yet

    come_due(series)
    assert reminder_series_step(series.pk) == 2
    assert reminder_series_step(series.pk) == 0  # a second delivery of the same nudge
    series.refresh_from_db()
    assert series.sent == 1
    assert (
        timedelta(minutes=10) - timedelta(seconds=5)
        <= series.next_at - timezone.now()
        <= timedelta(minutes=10)
    )
    claimed = Reminder.objects.filter(series=series)
    assert sorted(claimed.values_list("to", flat=True)) == sorted(
        incident.tenant.contacts.filter(can_authorize=True).exclude(email="").values_list("email", flat=True)
    )
    assert set(claimed.values_list("number", "state")) == {(1, OutboxState.CLAIMED)}


def test_a_reminder_is_sent_once_with_a_link_for_exactly_what_awaits_and_told_on_the_timeline() -> None:
    incident, isolate, _ = awaiting_after_ack()
    reminders_sweep()
    come_due(series_of(incident))
    reminder_series_step(series_of(incident).pk)
    reminder = Reminder.objects.filter(series__incident=incident).first()

    assert reminder_send(reminder.pk) == OutboxState.SENT
    assert reminder_send(reminder.pk) == ""  # another delivery of the task sends nothing
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [reminder.to]
    assert "reminder 1: 1 action still awaits your written authorization" in message.subject
    assert "Isolate endpoint on WS-0142" in message.body
    assert "/l/" in message.body and "/approvals/" in message.body
    event = incident.events.filter(kind=EventKind.NOTIFICATION_SENT, data__kind="reminder").get()
    assert event.data["reminder"] == reminder.pk and event.data["number"] == 1
    assert event.summary.startswith(f"Reminder 1 sent to {reminder.contact.name}")


def test_reminders_stop_when_the_actions_are_authorized_even_one_already_claimed() -> None:
    incident, isolate, approver = awaiting_after_ack()
    reminders_sweep()
    series = series_of(incident)
    come_due(series)
    reminder_series_step(series.pk)
    claimed = Reminder.objects.filter(series=series).first()
    portal_decision(incident, [isolate], approver)

    assert reminder_send(claimed.pk) == OutboxState.CANCELED
    assert mail.outbox == []
    assert reminders_sweep()["ended"] == 1
    series.refresh_from_db()
    assert series.state == SeriesState.ENDED
    come_due(series)
    assert reminder_series_step(series.pk) == 0


@pytest.mark.parametrize("how", ["declined", "canceled", "closed"])
def test_reminders_stop_when_the_action_is_declined_canceled_or_the_incident_closed(how: str) -> None:
    incident, isolate, approver = awaiting_after_ack()
    reminders_sweep()
    series = series_of(incident)
    if how == "declined":
        portal_decision(incident, [isolate], approver, Authorization.Decision.DECLINED)
    elif how == "canceled":
        action_cancel(action=isolate, by=make_analyst(), reason="False positive.")
    else:
        incident_change_status(incident=incident, status=IncidentStatus.CLOSED, by=make_analyst())
    come_due(series)
    assert reminder_series_step(series.pk) == 0
    series.refresh_from_db()
    assert series.state == SeriesState.ENDED
    assert not Reminder.objects.filter(series=series).exists()


def test_after_reminder_count_reminders_the_incident_is_flagged_once_and_a_new_wait_starts_afresh() -> None:
    incident, isolate, approver = awaiting_after_ack(count=2)
    reminders_sweep()
    series = series_of(incident)
    for _ in range(2):
        come_due(series)
        assert reminder_series_step(series.pk) == 2
    incident.refresh_from_db()
    assert not incident.needs_attention
    come_due(series)
    assert reminder_series_step(series.pk) == 0
    incident.refresh_from_db()
    series.refresh_from_db()
    assert incident.needs_attention and series.state == SeriesState.FLAGGED
    flags = incident.events.filter(kind=EventKind.FLAGGED)
    assert [e.summary for e in flags] == [
        "2 reminders went unanswered (written authorization awaited after an acknowledgment): an analyst "
        "should follow up with the customer."
    ]
    assert reminders_sweep()["started"] == 0  # flagged, still waiting: no new series, no more reminders

    portal_decision(incident, [isolate], approver)
    reminders_sweep()
    series.refresh_from_db()
    assert series.state == SeriesState.ENDED
    propose(incident, "disable_user", target="jdoe")
    assert reminders_sweep()["started"] == 1
    assert ReminderSeries.objects.filter(incident=incident, state=SeriesState.ACTIVE).count() == 1


def test_a_reminder_tells_when_the_wait_began_in_its_readers_time_zone() -> None:
    incident, isolate, _ = awaiting_after_ack()
    tenant = incident.tenant
    tenant_update_settings(tenant=tenant, by=None, timezone="America/New_York")
    began = timezone.make_aware(datetime(2026, 7, 3, 7, 5), UTC)  # 03:05 in New York (EDT)
    type(isolate).objects.filter(pk=isolate.pk).update(proposed_at=began)
    reminders_sweep()
    come_due(series_of(incident))
    reminder_series_step(series_of(incident).pk)
    reminder = Reminder.objects.filter(series__incident=incident).first()

    assert reminder_send(reminder.pk) == OutboxState.SENT
    message = mail.outbox[0]
    assert "Waiting since: 2026-07-03 03:05 EDT" in message.body
    assert "2026-07-03 03:05 EDT" in message.alternatives[0][0]


def test_the_customers_tasks_are_reminded_to_its_contacts_and_the_partners_to_the_partners() -> None:
    partner = make_partner("msp-reminded")
    desk = contact_create(partner=partner, by=None, name="MSP desk", email="desk@msp.example")
    tenant = make_tenant(
        phones=1,
        partner=partner,
        performers={"disable_user": Performer.CUSTOMER, "block_ip": Performer.PARTNER},
    )
    incident = make_incident(tenant)
    propose(incident, "disable_user", target="jdoe")
    propose(incident, "block_ip", target="203.0.113.9")
    reminders_sweep()  # no acknowledgment needed: a task was sent to them as a recommendation

    for kind, expected in (
        (ReminderKind.CUSTOMER_TASK, list(tenant.contacts.values_list("email", flat=True))),
        (ReminderKind.PARTNER_TASK, [desk.email]),
    ):
        series = series_of(incident, kind)
        come_due(series)
        reminder_series_step(series.pk)
        assert list(Reminder.objects.filter(series=series).values_list("to", flat=True)) == expected


def test_a_customer_without_a_partner_has_nobody_reminded_of_partner_tasks() -> None:
    # Not every contact without a partner: those are every customer's (a filter on a partner of None).
    make_tenant(phones=2)
    incident = make_incident(make_tenant(phones=1))

    assert reminder_recipients(incident, ReminderKind.PARTNER_TASK) == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_workers_stepping_the_same_due_series_at_once_remind_each_contact_once() -> None:
    incident, _, _ = awaiting_after_ack()
    reminders_sweep()
    series = series_of(incident)
    come_due(series)
    barrier = threading.Barrier(2)
    claimed: list[int] = []

    def worker() -> None:
        barrier.wait()
        claimed.append(reminder_series_step(series.pk))

    at_once(worker)

    assert sorted(claimed) == [0, 2]
    assert Reminder.objects.filter(series=series).count() == 2
    series.refresh_from_db()
    assert series.sent == 1


def test_a_contact_who_chose_texts_is_reminded_by_text_once_and_one_who_did_not_choose_email_gets_none() -> (
    None
):
    incident, _, _ = awaiting_after_ack()
    texted = contact_create(
        tenant=incident.tenant,
        by=None,
        name="On call",
        phone="+12025550188",
        email="oncall@example.com",
        can_authorize=True,
        channels=["voice", "sms"],
    )
    reminders_sweep()
    series = series_of(incident)
    come_due(series)
    reminder_series_step(series.pk)
    reminder_series_step(series.pk)  # a second delivery of the same nudge

    by_text = Reminder.objects.get(contact=texted)  # no email: the contact did not choose it
    assert (by_text.channel, by_text.state, by_text.to) == ("sms", OutboxState.SENT, "+12025550188")
    text = TextMessage.objects.get(contact=texted)
    assert text == by_text.text and text.kind == TextKind.REMINDER
    assert f"reminder 1 for {incident.tenant.name}" in text.body and "1 action still awaits" in text.body
    assert text.body.endswith("/approvals/")


def test_a_reminder_stuck_while_being_handed_over_is_failed_on_the_timeline_and_never_resent() -> None:
    incident, _, _ = awaiting_after_ack()
    reminders_sweep()
    come_due(series_of(incident))
    reminder_series_step(series_of(incident).pk)
    stuck, other = Reminder.objects.filter(series__incident=incident).order_by("pk")[:2]
    # A worker took the first to hand it over and died; the second is being handed over right now.
    Reminder.objects.filter(pk=stuck.pk).update(
        state=OutboxState.SENDING, claimed_at=timezone.now() - timedelta(minutes=11)
    )
    Reminder.objects.filter(pk=other.pk).update(state=OutboxState.SENDING, claimed_at=timezone.now())

    assert reminders_sweep()["interrupted"] == 1
    assert reminders_sweep()["interrupted"] == 0

    stuck.refresh_from_db()
    assert (stuck.state, stuck.error) == (OutboxState.FAILED, INTERRUPTED)
    assert Reminder.objects.get(pk=other.pk).state == OutboxState.SENDING
    event = incident.events.get(kind=EventKind.NOTIFICATION_SENT, data__reminder=stuck.pk)
    assert event.data["outcome"] == OutboxState.FAILED
    assert "may or may not have been delivered" in event.summary
    assert reminder_send(stuck.pk) == "" and not mail.outbox  # never sent again


def test_reminders_keep_the_settings_in_force_when_the_incident_opened_until_the_policy_is_reapplied() -> (
    None
):
    incident, _, _ = awaiting_after_ack(count=2)  # every 10 minutes, twice
    tenant_update_settings(tenant=incident.tenant, by=None, reminder_minutes=60, reminder_count=5)
    reminders_sweep()
    series = series_of(incident)
    assert series.next_at <= timezone.now() + timedelta(minutes=10)

    come_due(series)
    assert reminder_series_step(series.pk) == 2
    series.refresh_from_db()
    assert series.next_at - timezone.now() <= timedelta(minutes=10)  # the snapshot's 10, not the new 60

    incident_reapply_policy(incident=Incident.objects.get(pk=incident.pk), by=make_analyst())
    for _ in range(2):  # the re-applied policy's 5 reminders: past the snapshot's 2
        come_due(series)
        assert reminder_series_step(series.pk) == 2
    series.refresh_from_db()
    assert series.state == SeriesState.ACTIVE and series.sent == 3
    assert timedelta(minutes=59) <= series.next_at - timezone.now() <= timedelta(minutes=60)


def test_open_incidents_take_their_tenants_reminder_settings_into_their_snapshot_on_migration() -> None:
    from django.apps import apps

    migration = importlib.import_module("incidents.migrations.0016_policy_reminders")
    tenant = make_tenant()
    tenant_update_settings(tenant=tenant, by=None, reminder_minutes=45, reminder_count=7)
    opened, closed = make_incident(tenant), make_incident(tenant)
    before = {key: value for key, value in opened.policy.items() if not key.startswith("reminder_")}
    Incident.objects.filter(pk__in=[opened.pk, closed.pk]).update(policy=before)
    Incident.objects.filter(pk=closed.pk).update(status=IncidentStatus.CLOSED)

    migration.snapshot_reminder_settings(apps, None)

    assert Incident.objects.get(pk=opened.pk).policy == {
        **before,
        "reminder_minutes": 45,
        "reminder_count": 7,
    }
    assert Incident.objects.get(pk=closed.pk).policy == before
