"""Texts of the partner's call tree: a partner's contact who takes texts is texted when the tree reaches them;
the reply code and the task link acknowledge the partner's task only, never the customer's incident. An
engineer who is a contact of both the customer and its partner, under one number, holds a code for each side
and each code acknowledges its own side.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client

from escalation.emails.send import email_send
from escalation.links.tokens import LinkPurpose, link_url
from escalation.models import Acknowledgment, NotificationRun, RunPurpose, RunState, TextKind, TextMessage
from escalation.partners.models import TaskAcknowledgment
from escalation.partners.services import partner_task_acknowledge
from escalation.runs.customer import customer_tell
from escalation.runs.services import run_advance
from escalation.sms.inbound import InboundText, sms_received
from escalation.sms.send import text_send
from incidents.locks import incident_lock
from incidents.models import Channel, EventKind, Incident, ResponseAction
from mdrportal.core.retry import retried_atomic
from tenants.channels import ContactChannel
from tenants.models import Contact, Performer
from tenants.services import contact_create, contact_update
from tests.factories import first_contact, make_incident, make_partner, make_tenant, propose

pytestmark = pytest.mark.django_db

TEXTS = [ContactChannel.VOICE, ContactChannel.SMS, ContactChannel.EMAIL]
OWN_NUMBER = "+12025559901"


class Served:
    """A customer with the fallback ticked and one contact, served by a partner with one technician who takes
    texts; one task given to the partner and one MDR action awaiting the customer."""

    def __init__(self, *, dual: bool) -> None:
        partner = make_partner("msp-texts")
        self.tenant = make_tenant(
            fallback=True, phones=1, partner=partner, performers={"block_ip": Performer.PARTNER}
        )
        self.customer = first_contact(self.tenant)
        # The MSP engineer who is also the customer's contact has one phone for both.
        number = self.customer.phone if dual else OWN_NUMBER
        self.technician = contact_create(
            partner=partner, by=None, name="Technician", phone=number, channels=list(TEXTS)
        )
        self.incident = make_incident(self.tenant)
        self.task = propose(self.incident, "block_ip", target="203.0.113.9")
        self.isolate = propose(self.incident, "isolate_endpoint")
        customer_tell(self.incident.pk)
        self.run = self.incident.notification_runs.get(purpose=RunPurpose.PARTNER_TASK)
        self.notify = self.incident.notification_runs.get(purpose=RunPurpose.NOTIFY)

    def partner_text(self) -> TextMessage:
        """The partner's tree takes its step: its call is queued and the technician texted; the text sent."""
        assert run_advance(self.run.pk)
        return sent(TextMessage.objects.get(run=self.run))

    def customer_text(self) -> TextMessage:
        """The customer's round takes its step: its contact, who takes texts, is texted; the text sent."""
        contact_update(contact=self.customer, by=None, channels=list(TEXTS))
        run_advance(self.notify.pk)
        return sent(TextMessage.objects.get(run=self.notify, contact=self.customer))

    def incident_acknowledged(self) -> bool:
        return Acknowledgment.objects.filter(incident=self.incident).exists()

    def run_state(self, run: NotificationRun) -> str:
        return NotificationRun.objects.get(pk=run.pk).state


def sent(text: TextMessage) -> TextMessage:
    text_send(text.pk)
    text.refresh_from_db()
    return text


def reply(number: object, body: str) -> str:
    return sms_received(InboundText(sender=str(number), body=body, sid="SMpartner"))


def link_in(text: TextMessage) -> str:
    found = re.search(r"https?://\S+", text.body)
    assert found, text.body
    return urlsplit(found.group(0)).path


def test_the_partner_s_technician_is_texted_when_its_tree_reaches_them_and_the_reply_acknowledges_the_task_only() -> (
    None
):
    served = Served(dual=False)
    text = served.partner_text()
    assert text.kind == TextKind.PARTNER_TASK and text.contact_id == served.technician.pk and text.reply_code
    for said in (served.tenant.name, f"#{served.incident.pk}", "203.0.113.9", f"1 {text.reply_code}"):
        assert said in text.body, text.body
    assert served.run.calls.get().contact_id == served.technician.pk  # texted as its call is queued

    answer = reply(OWN_NUMBER, f"1 {text.reply_code}")

    assert "Acknowledged the task" in answer and "not acknowledged" in answer, answer
    ack = TaskAcknowledgment.objects.get(task=served.task)
    assert (ack.contact_id, ack.channel, ack.run_id) == (served.technician.pk, Channel.SMS, served.run.pk)
    assert served.run_state(served.run) == RunState.ACKNOWLEDGED
    assert served.incident.events.filter(kind=EventKind.TASK_ACKNOWLEDGED).count() == 1
    # The safety property: the customer's incident is not acknowledged and its round goes on.
    assert not served.incident_acknowledged()
    assert served.run_state(served.notify) == RunState.ACTIVE

    again = reply(OWN_NUMBER, f"1 {text.reply_code}")
    assert "Nothing was changed" in again and TaskAcknowledgment.objects.count() == 1


def test_a_bare_1_acknowledges_the_partner_s_one_open_task_and_not_the_incident() -> None:
    served = Served(dual=False)
    served.partner_text()

    reply(OWN_NUMBER, "1")

    assert TaskAcknowledgment.objects.filter(task=served.task).exists()
    assert not served.incident_acknowledged()


def test_a_second_step_of_the_partner_s_tree_texts_nobody_twice() -> None:
    served = Served(dual=False)
    served.partner_text()
    NotificationRun.objects.filter(pk=served.run.pk).update(next_step_at=served.run.next_step_at)
    run_advance(served.run.pk)
    assert TextMessage.objects.filter(run=served.run).count() == 1


def test_the_dual_engineer_s_partner_code_acknowledges_the_task_and_the_customer_code_the_incident() -> None:
    served = Served(dual=True)
    customer_text, partner_text = served.customer_text(), served.partner_text()
    assert customer_text.to == partner_text.to and customer_text.reply_code != partner_text.reply_code

    bare = reply(served.customer.phone, "1")
    assert "2 open" in bare and not TaskAcknowledgment.objects.exists() and not served.incident_acknowledged()

    reply(served.customer.phone, f"1 {partner_text.reply_code}")
    assert TaskAcknowledgment.objects.filter(task=served.task, contact=served.technician).exists()
    assert not served.incident_acknowledged()
    assert served.run_state(served.notify) == RunState.ACTIVE

    reply(served.customer.phone, f"1 {customer_text.reply_code}")
    assert Acknowledgment.objects.get(incident=served.incident).contact_id == served.customer.pk
    assert TaskAcknowledgment.objects.count() == 1


def test_the_dual_engineer_s_customer_code_acknowledges_the_incident_and_leaves_the_task_to_its_code() -> (
    None
):
    served = Served(dual=True)
    customer_text, partner_text = served.customer_text(), served.partner_text()

    reply(served.customer.phone, f"1 {customer_text.reply_code}")
    assert Acknowledgment.objects.get(incident=served.incident).contact_id == served.customer.pk
    assert not TaskAcknowledgment.objects.exists()
    # The customer's acknowledgment is not the partner's: its tree and its code stay open.
    assert served.run_state(served.run) == RunState.ACTIVE

    answer = reply(served.customer.phone, f"1 {partner_text.reply_code}")
    assert "Acknowledged the task" in answer, answer
    assert TaskAcknowledgment.objects.get(task=served.task).contact_id == served.technician.pk
    assert Acknowledgment.objects.count() == 1


def test_a_partner_code_of_a_task_acknowledged_by_phone_changes_nothing_and_says_so() -> None:
    served = Served(dual=False)
    text = served.partner_text()

    @retried_atomic
    def pressed_1() -> object:
        incident = incident_lock(served.incident.pk)
        return partner_task_acknowledge(
            incident, run=served.run, contact=served.technician, channel=Channel.PHONE
        )

    assert pressed_1() is not None
    answer = reply(OWN_NUMBER, f"1 {text.reply_code}")
    assert "already acknowledged" in answer, answer
    assert TaskAcknowledgment.objects.get().channel == Channel.PHONE and not served.incident_acknowledged()


def test_a_technician_deactivated_since_the_text_cannot_acknowledge_the_task(client: Client) -> None:
    served = Served(dual=False)
    text = served.partner_text()
    contact_update(contact=served.technician, by=None, active=False)

    reply(OWN_NUMBER, f"1 {text.reply_code}")
    assert client.post(link_in(text), {"decision": "confirm"}).status_code == 403

    assert not TaskAcknowledgment.objects.exists() and served.run_state(served.run) == RunState.ACTIVE


# The task link


def test_the_texted_task_link_acknowledges_the_task_only_and_once(client: Client) -> None:
    served = Served(dual=False)
    path = link_in(served.partner_text())

    page = client.get(path)
    assert page.status_code == 200 and b"Acknowledge the task" in page.content
    assert not TaskAcknowledgment.objects.exists()  # a GET changes nothing

    done = client.post(path, {"decision": "confirm"})

    assert done.status_code == 200 and b"not acknowledged" in done.content
    ack = TaskAcknowledgment.objects.get(task=served.task)
    assert (ack.contact_id, ack.channel) == (served.technician.pk, Channel.EMAIL_LINK)
    assert not served.incident_acknowledged() and served.run_state(served.notify) == RunState.ACTIVE
    assert client.post(path, {"decision": "confirm"}).status_code == 410


def test_the_emailed_task_link_acknowledges_the_task_only(client: Client, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    served = Served(dual=False)
    desk = contact_create(partner=served.tenant.partner, by=None, name="MSP Desk", email="desk@msp.example")
    run_advance(served.notify.pk)  # the customer's first step emails the partner's desk about its task
    for email in served.notify.emails.filter(contact=desk):
        email_send(email.pk)
    (message,) = [m for m in mail.outbox if m.to == [desk.email]]
    found = re.search(re.escape(django_settings.PUBLIC_BASE_URL) + r"(/l/[^/\s]+/)", message.body)
    assert found, message.body

    done = client.post(found.group(1), {"decision": "confirm"})

    assert done.status_code == 200 and b"not acknowledged" in done.content
    ack = TaskAcknowledgment.objects.get(task=served.task)
    assert (ack.contact_id, ack.channel) == (desk.pk, Channel.EMAIL_LINK)
    assert not served.incident_acknowledged() and served.run_state(served.notify) == RunState.ACTIVE
    assert served.run_state(served.run) != RunState.ACTIVE  # the partner's tree stops calling


def _path(purpose: str, *, incident: Incident, contact: Contact, actions: list[ResponseAction]) -> str:
    url = link_url(
        purpose=purpose,
        tenant_id=incident.tenant_id,
        contact_id=contact.pk,
        incident_id=incident.pk,
        action_ids=[a.pk for a in actions],
    )
    return urlsplit(url).path


def test_a_task_link_naming_the_customer_s_contact_or_an_mdr_action_is_refused(client: Client) -> None:
    served = Served(dual=False)
    for contact, action in ((served.customer, served.task), (served.technician, served.isolate)):
        path = _path(LinkPurpose.TASK_ACK, incident=served.incident, contact=contact, actions=[action])
        assert client.post(path, {"decision": "confirm"}).status_code == 400
    assert not TaskAcknowledgment.objects.exists() and not served.incident_acknowledged()


def test_an_incident_link_naming_a_partner_s_contact_never_acknowledges_the_incident(client: Client) -> None:
    served = Served(dual=False)
    path = _path(LinkPurpose.ACK, incident=served.incident, contact=served.technician, actions=[])
    assert client.post(path, {"decision": "confirm"}).status_code == 403
    assert not served.incident_acknowledged() and served.run_state(served.notify) == RunState.ACTIVE
