"""Reminders end to end: a real Celery worker with its beat sweeper, an SMTP sink and a fake Twilio REST API
on 127.0.0.1. A reminder "minute" lasts one second in the worker (REMINDER_MINUTE_SECONDS), so a tenant
reminded every 2 minutes is reminded every 2 s here; nothing sleeps for minutes.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.urls import reverse

from escalation.acknowledgments.services import acknowledgment_record
from escalation.reminders.models import Reminder, ReminderKind, ReminderSeries, SeriesState
from incidents.models import Channel, EventKind, Incident
from mdrportal.core.outbox import OutboxState
from tenants.models import Partner, Performer, Role, Tenant
from tenants.services import contact_create, tenant_update_settings
from tests.factories import (
    make_incident,
    make_member,
    make_partner,
    make_partner_user,
    make_tenant,
    portal,
    portal_decision,
    propose,
)
from tests.fakes.smtp import SMTPSink
from tests.worker import Worker, wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

MINUTE_SECONDS = 1
EVERY = 2  # the tenant's reminder_minutes: 2 s in the worker


@pytest.fixture
def worker_settings() -> dict[str, str]:
    return {"RENOTIFY_ROUNDS": "0", "REMINDER_MINUTE_SECONDS": str(MINUTE_SECONDS)}


def reminded_tenant(
    *, count: int, partner: Partner | None = None, performers: dict[str, str] | None = None
) -> Tenant:
    tenant = make_tenant(phones=2, partner=partner, performers=performers)
    tenant_update_settings(tenant=tenant, by=None, reminder_minutes=EVERY, reminder_count=count)
    return tenant


def sent(incident: Incident, kind: str) -> list[Reminder]:
    return list(
        Reminder.objects.filter(series__incident=incident, series__kind=kind, state=OutboxState.SENT)
        .select_related("contact")
        .order_by("number", "contact__call_order")
    )


def story(incident: Incident) -> str:
    return "\n".join(f"  {e.at:%H:%M:%S.%f} {e.kind}: {e.summary}" for e in incident.events.order_by("id"))


def test_reminders_go_every_reminder_minutes_to_those_who_may_authorize_then_the_incident_is_flagged(
    worker: Worker, smtp: SMTPSink
) -> None:
    tenant = reminded_tenant(count=3)
    # A contact who may not authorize is not reminded of a written authorization.
    reader = contact_create(
        tenant=tenant, by=None, name="Reader", email="reader@example.com", can_authorize=False
    )
    incident = make_incident(tenant)
    acknowledgment_record(incident=incident, channel=Channel.PORTAL, user=make_member(tenant, Role.APPROVER))
    waiting_since = propose(incident, "isolate_endpoint").proposed_at  # awaits written authorization

    wait_for(
        lambda: Incident.objects.get(pk=incident.pk).needs_attention,
        timeout=60,
        what="the flag after the last reminder",
    )
    reminders = sent(incident, ReminderKind.AUTHORIZATION)
    approvers = sorted(tenant.contacts.filter(can_authorize=True).values_list("email", flat=True))
    assert [(r.number, r.to) for r in reminders] == [(n, to) for n in (1, 2, 3) for to in approvers], story(
        incident
    )
    assert not [m for m in smtp.to(reader.email) if "reminder" in str(m["Subject"])]

    firsts = [min(r.sent_at for r in reminders if r.number == n) for n in (1, 2, 3)]
    every = timedelta(seconds=EVERY * MINUTE_SECONDS)
    # The first comes one interval after the wait began (the sweeper finds it within a second); each next
    # one interval after the one before: never sooner, and no later than a sweep and a hop after it.
    assert every <= firsts[0] - waiting_since <= every + timedelta(seconds=3), story(incident)
    for before, after in zip(firsts, firsts[1:], strict=False):
        assert every - timedelta(milliseconds=100) <= after - before <= every + timedelta(seconds=2), story(
            incident
        )
    flag = incident.events.get(kind=EventKind.FLAGGED)
    assert "3 reminders went unanswered" in flag.summary
    assert flag.at - firsts[-1] >= every - timedelta(milliseconds=100)
    series = ReminderSeries.objects.get(incident=incident, kind=ReminderKind.AUTHORIZATION)
    assert (series.state, series.sent) == (SeriesState.FLAGGED, 3)

    for address in approvers:
        subjects = [str(m["Subject"]) for m in smtp.to(address) if "reminder" in str(m["Subject"])]
        assert len(subjects) == 3 and "1 action still awaits your written authorization (" in subjects[0]
    time.sleep(2 * EVERY)
    assert len(sent(incident, ReminderKind.AUTHORIZATION)) == 6  # none after the flag


def test_reminders_stop_as_soon_as_the_action_is_authorized(worker: Worker, smtp: SMTPSink) -> None:
    tenant = reminded_tenant(count=4)
    approver = make_member(tenant, Role.APPROVER)
    incident = make_incident(tenant)
    acknowledgment_record(incident=incident, channel=Channel.PORTAL, user=approver)
    isolate = propose(incident, "isolate_endpoint")
    wait_for(lambda: sent(incident, ReminderKind.AUTHORIZATION), timeout=30, what="the first reminder")

    portal_decision(incident, [isolate], approver)
    numbers = {r.number for r in sent(incident, ReminderKind.AUTHORIZATION)}
    wait_for(
        lambda: ReminderSeries.objects.get(incident=incident).state == SeriesState.ENDED,
        timeout=10,
        what="the series to end",
    )
    time.sleep(3 * EVERY)  # the next reminders would have been due meanwhile
    assert {r.number for r in sent(incident, ReminderKind.AUTHORIZATION)} == numbers == {1}, story(incident)
    assert (
        not Reminder.objects.filter(series__incident=incident, number__gt=1)
        .exclude(state=OutboxState.CANCELED)
        .exists()
    )
    incident.refresh_from_db()
    assert not incident.needs_attention


def test_a_task_marked_done_by_the_partner_shows_on_the_timeline_with_who_and_its_reminders_stop(
    worker: Worker, smtp: SMTPSink
) -> None:
    partner = make_partner("northwind-msp")
    msp_contact = contact_create(partner=partner, by=None, name="MSP desk", email="desk@northwind.example")
    tenant = reminded_tenant(count=4, partner=partner, performers={"disable_user": Performer.PARTNER})
    incident = make_incident(tenant)
    task = propose(incident, "disable_user", target="jdoe")
    wait_for(lambda: sent(incident, ReminderKind.PARTNER_TASK), timeout=30, what="a reminder to the partner")
    assert {r.to for r in sent(incident, ReminderKind.PARTNER_TASK)} == {msp_contact.email}
    assert any("delegated to you" in str(m["Subject"]) for m in smtp.to(msp_contact.email))

    technician = make_partner_user(partner, Role.APPROVER, "tech@northwind")
    client = portal(technician, tenant)
    page = client.get(reverse("incidents:tasks"))
    assert f'id="task-{task.pk}"' in page.content.decode()
    response = client.post(
        reverse("incidents:task_mark", args=[task.pk]), {"done": "yes", "note": "Account disabled in AD."}
    )
    assert response.status_code == 302, response.content[:500]

    event = incident.events.get(kind=EventKind.TASK_MARKED)
    assert (event.actor, event.actor_label, event.channel) == (technician, "tech@northwind", Channel.PORTAL)
    assert event.data["note"] == "Account disabled in AD." and event.data["done"] is True
    assert "Marked done by tech@northwind: Account disabled in AD." in event.summary
    numbers = {r.number for r in sent(incident, ReminderKind.PARTNER_TASK)}
    wait_for(
        lambda: (
            ReminderSeries.objects.get(incident=incident, kind=ReminderKind.PARTNER_TASK).state
            == SeriesState.ENDED
        ),
        timeout=10,
        what="the partner's reminders to end",
    )
    time.sleep(2 * EVERY)
    assert {r.number for r in sent(incident, ReminderKind.PARTNER_TASK)} == numbers
