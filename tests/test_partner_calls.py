"""The partner's own call tree for a task given to it, end to end: a real Celery worker with its beat sweeper,
the fake Twilio REST API and an SMTP sink on 127.0.0.1; the test plays the carrier.

A task routed to the partner phones the partner's contacts (not the customer's), on their hours and away
dates; the partner's 1 acknowledges the task only: the customer's incident stays unacknowledged, its calls
go on and its fallback is still taken when nobody at the customer answers (the safety property).
"""

from __future__ import annotations

from typing import Any

import pytest

from escalation.acknowledgments.services import acknowledgment_record
from escalation.models import Acknowledgment, CallAttempt, NotificationRun, RunPurpose, RunState
from escalation.partners.models import TaskAcknowledgment
from escalation.partners.services import partner_task_acknowledge
from escalation.runs.customer import customer_tell
from escalation.wanted import someone_has_it
from incidents.locks import incident_lock
from incidents.models import ActionStatus, Basis, Channel, EventKind, Incident, ResponseAction
from mdrportal.core.retry import retried_atomic
from tenants.models import Contact, Partner, Performer
from tenants.services import tenant_update_settings
from tests import test_fallback_integration
from tests.factories import first_contact, make_incident, make_partner, make_tenant, propose
from tests.test_availability_integration import away_now, never_now
from tests.test_fallback_integration import RING_TIMEOUT, placed_call, story
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
worker_settings = test_fallback_integration.worker_settings  # the fallback suite's worker, for `phone`


def partner_contact(partner: Partner, order: int) -> Contact:
    return Contact.objects.create(
        partner=partner,
        name=f"Technician {order}",
        email=f"tech{order}@{partner.slug}.example",
        phone=f"+1202555{900 + order:04d}",
        call_order=order,
    )


def served_customer() -> tuple[Partner, list[Contact], Incident]:
    """A Collaborate customer with the fallback ticked, served by a partner that blocks addresses; the
    partner's first technician is on holiday, the second outside its hours, the third on call."""
    partner = make_partner("msp-calls")
    technicians = [partner_contact(partner, n) for n in (1, 2, 3)]
    away_now(technicians[0], "Skiing")
    never_now(technicians[1])
    tenant = make_tenant(fallback=True, phones=1, partner=partner, performers={"block_ip": Performer.PARTNER})
    tenant_update_settings(tenant=tenant, by=None, ring_timeout_seconds=RING_TIMEOUT)
    return partner, technicians, make_incident(tenant)


def test_a_partner_task_phones_the_partners_technician_on_call_whose_1_acknowledges_the_task_only(
    phone: Any, twilio: Any
) -> None:
    partner, (skiing, off_hours, on_call), incident = served_customer()
    task = propose(incident, "block_ip", target="203.0.113.9")
    isolate = propose(incident, "isolate_endpoint")  # MDR Ops', awaiting the customer's authorization
    assert task.performer == Performer.PARTNER and task.status == ActionStatus.RECOMMENDED

    call = placed_call(incident, purpose=RunPurpose.PARTNER_TASK)
    assert call.contact_id == on_call.pk, story(incident)
    run = NotificationRun.objects.get(incident=incident, purpose=RunPurpose.PARTNER_TASK)
    assert run.task_id == task.pk
    assert run.plan == [{"contact": on_call.pk, "try": 1}]
    assert {u["contact"] for u in run.unavailable} == {skiing.pk, off_hours.pk}
    words = phone.voice(call, AnsweredBy="human").content.decode()
    for said in (partner.name, incident.tenant.name, f"incident number {incident.pk}", "203.0.113.9"):
        assert said in words, words

    assert b"Task acknowledged" in phone.press(call, "1").content
    phone.status(call, "completed", AnsweredBy="human")
    ack = TaskAcknowledgment.objects.get(task=task)
    assert ack.contact_id == on_call.pk and ack.call_id == call.pk
    assert NotificationRun.objects.get(pk=run.pk).state == RunState.ACKNOWLEDGED
    event = incident.events.get(kind=EventKind.TASK_ACKNOWLEDGED)
    assert event.actor_label == on_call.name and event.data["task"] == task.pk

    # The customer's incident is not acknowledged: its own tree goes on and its fallback is still due.
    assert not Acknowledgment.objects.filter(incident=incident).exists()
    customer_call = placed_call(incident)
    assert customer_call.contact.tenant_id == incident.tenant_id
    twilio.status[customer_call.provider_sid] = "no-answer"
    phone.status(customer_call, "no-answer")
    wait_for(
        lambda: Incident.objects.get(pk=incident.pk).fallback_taken_at is not None,
        what="the customer's fallback, which the partner's acknowledgment does not stop",
    )
    assert ResponseAction.objects.get(pk=isolate.pk).basis == Basis.NO_ACK_FALLBACK
    assert TaskAcknowledgment.objects.filter(task=task).count() == 1  # the partner's answer, kept as it was
    assert not CallAttempt.objects.filter(run__incident=incident, contact__in=[skiing, off_hours]).exists()


@pytest.mark.django_db
def test_each_side_acknowledges_only_its_own_and_neither_stops_the_others_calls() -> None:
    partner = make_partner("msp-sides")
    technician = partner_contact(partner, 1)
    tenant = make_tenant(fallback=True, phones=1, partner=partner, performers={"block_ip": Performer.PARTNER})
    incident = make_incident(tenant)
    first = propose(incident, "block_ip", target="203.0.113.9")
    second = propose(incident, "block_ip", target="203.0.113.10")
    customer_tell(incident.pk)  # what the worker does after the proposals commit
    runs = {r.task_id: r for r in incident.notification_runs.filter(purpose=RunPurpose.PARTNER_TASK)}
    assert set(runs) == {first.pk, second.pk}
    assert all(r.plan == [{"contact": technician.pk, "try": 1}] for r in runs.values())
    notify = incident.notification_runs.get(purpose=RunPurpose.NOTIFY)

    @retried_atomic
    def partner_says_1() -> object:
        return partner_task_acknowledge(
            incident_lock(incident.pk), run=runs[first.pk], contact=technician, channel=Channel.PHONE
        )

    assert partner_says_1() is not None
    assert partner_says_1() is None  # the first answer counts
    assert not someone_has_it(incident) and not Acknowledgment.objects.filter(incident=incident).exists()
    assert NotificationRun.objects.get(pk=notify.pk).state == RunState.ACTIVE
    assert NotificationRun.objects.get(pk=runs[second.pk].pk).state == RunState.ACTIVE

    acknowledgment_record(incident=incident, channel=Channel.PORTAL, contact=first_contact(tenant))
    assert NotificationRun.objects.get(pk=notify.pk).state == RunState.ACKNOWLEDGED
    assert NotificationRun.objects.get(pk=runs[second.pk].pk).state == RunState.ACTIVE  # still the partner's
    assert not TaskAcknowledgment.objects.filter(task=second).exists()
