"""The partner's texts end to end: a real Celery worker with its beat sweeper, the fake Twilio REST API and
an SMTP sink on 127.0.0.1; the test plays Twilio. The technician on call is texted as the partner's tree
reaches them; their reply acknowledges the task, and the customer's fallback is still taken when nobody at
the customer answers (the safety property).
"""

from __future__ import annotations

from typing import Any

import pytest

from escalation.models import Acknowledgment, RunPurpose, TextKind, TextMessage
from escalation.partners.models import TaskAcknowledgment
from incidents.models import Basis, Channel, Incident, ResponseAction
from tenants.services import contact_update
from tests import test_fallback_integration
from tests.factories import propose
from tests.test_fallback_integration import placed_call, story
from tests.test_partner_calls import served_customer
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
worker_settings = test_fallback_integration.worker_settings  # the fallback suite's worker, for `phone`


def test_the_technician_s_text_reply_acknowledges_the_task_and_the_customer_s_fallback_still_comes(
    phone: Any, twilio: Any
) -> None:
    twilio.messages.clear()  # the fake outlives the test, and numbers repeat from one test to the next
    _, (skiing, _, on_call), incident = served_customer()
    for technician in (skiing, on_call):
        contact_update(contact=technician, by=None, channels=["voice", "sms", "email"])
    task = propose(incident, "block_ip", target="203.0.113.9")
    isolate = propose(incident, "isolate_endpoint")

    wait_for(lambda: twilio.texts_to(str(on_call.phone)), timeout=45, what="the technician's text")
    (body,) = twilio.texts_to(str(on_call.phone))
    text = TextMessage.objects.get(kind=TextKind.PARTNER_TASK)
    assert text.contact_id == on_call.pk and f"Reply 1 {text.reply_code}" in body and "203.0.113.9" in body
    assert not twilio.texts_to(str(skiing.phone))  # away: the tree does not reach them, nor does a text

    answer = phone.text(str(on_call.phone), f"1 {text.reply_code}").content.decode()

    assert "Acknowledged the task" in answer, answer
    ack = TaskAcknowledgment.objects.get(task=task)
    assert (ack.contact_id, ack.channel) == (on_call.pk, Channel.SMS)
    assert not Acknowledgment.objects.filter(incident=incident).exists()
    customer_call = placed_call(incident)
    twilio.status[customer_call.provider_sid] = "no-answer"
    phone.status(customer_call, "no-answer")
    wait_for(
        lambda: Incident.objects.get(pk=incident.pk).fallback_taken_at is not None,
        what="the customer's fallback, which the partner's text reply does not stop",
    )
    assert ResponseAction.objects.get(pk=isolate.pk).basis == Basis.NO_ACK_FALLBACK, story(incident)
    assert incident.notification_runs.get(purpose=RunPurpose.PARTNER_TASK).task_acknowledgments.count() == 1
