"""Each message says what its reader can do: authorize, acknowledge, or nothing but know, by email, text and
call alike; a contact who may not authorize is never told that their decision is needed."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core import mail

from escalation.emails.send import email_send
from escalation.links.tokens import LinkPurpose, link_read
from escalation.models import CallAttempt, NotificationRun, TextMessage
from escalation.phone.twiml import script_text
from escalation.reader import ReaderCan, reader_can
from escalation.runs.services import notification_start, run_advance
from escalation.selectors import call_script
from escalation.sms.outbound import text_body
from incidents.models import Incident
from tenants.models import Contact, Performer, ResponseMode, Tenant
from tenants.services import contact_create, contact_update, tenant_delegation_set
from tests.factories import make_incident, make_partner, make_tenant, propose
from tests.fakes.twilio import call_dialing

pytestmark = pytest.mark.django_db

DECISION = "your decision is needed"


@pytest.fixture(autouse=True)
def locmem_mail(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def approver_and_viewer(tenant: Tenant) -> tuple[Contact, Contact]:
    """The first contact may authorize; the second may not. Both take texts."""
    approver, viewer = tenant.contacts.order_by("call_order")
    contact_update(contact=approver, by=None, channels=["voice", "sms", "email"])
    contact_update(contact=viewer, by=None, channels=["voice", "sms", "email"], can_authorize=False)
    return approver, viewer


def emails_of(run: NotificationRun) -> dict[str, mail.EmailMultiAlternatives]:
    for pk in run.emails.values_list("pk", flat=True):
        email_send(pk)
    return {m.to[0]: m for m in mail.outbox}


def link_purposes(message: mail.EmailMultiAlternatives) -> set[LinkPurpose]:
    tokens = re.findall(re.escape(settings.PUBLIC_BASE_URL) + r"/l/([^/\s\"<]+)/", message.body)
    return {link_read(token).purpose for token in tokens}


def notified(incident: Incident) -> NotificationRun:
    run = notification_start(incident=incident, by=None)
    run_advance(run.pk)
    return run


def test_who_can_do_what_follows_the_contact_role_and_the_incident_policy() -> None:
    partner = make_partner()
    collaborate = make_tenant(partner=partner)
    approver, viewer = approver_and_viewer(collaborate)
    partner_contact = contact_create(partner=partner, by=None, name="MSP desk", email="desk@msp.example")
    incident = make_incident(collaborate)
    assert reader_can(approver, incident) is ReaderCan.AUTHORIZE
    assert reader_can(viewer, incident) is ReaderCan.ACKNOWLEDGE
    assert reader_can(partner_contact, incident) is ReaderCan.KNOW
    # Authorize mode asks nobody for a written decision: its approvers acknowledge.
    authorize = make_tenant(mode=ResponseMode.AUTHORIZE)
    assert reader_can(authorize.contacts.first(), make_incident(authorize)) is ReaderCan.ACKNOWLEDGE


def test_only_the_contact_who_may_authorize_is_told_their_decision_is_needed_by_email() -> None:
    tenant = make_tenant()
    approver, viewer = approver_and_viewer(tenant)
    incident = make_incident(tenant)
    propose(incident, "isolate_endpoint")

    sent = emails_of(notified(incident))

    to_approver, to_viewer = sent[approver.email], sent[viewer.email]
    assert DECISION in to_approver.subject and DECISION in to_approver.body.lower()
    assert "/l/" in to_approver.body and "YOUR WRITTEN AUTHORIZATION" in to_approver.body
    assert DECISION not in to_viewer.subject.lower() and DECISION not in to_viewer.body.lower()
    assert "awaiting your approvers' decision" in to_viewer.subject
    assert "from one of your approvers" in to_viewer.body
    assert "YOUR WRITTEN AUTHORIZATION" not in to_viewer.body and "Awaits your written" not in to_viewer.body
    assert "Acknowledge with the link below." in to_viewer.body


def test_the_partner_is_told_there_is_nothing_for_it_to_do_about_the_incident() -> None:
    partner = make_partner()
    tenant = make_tenant(partner=partner, performers={"isolate_endpoint": Performer.PARTNER})
    desk = contact_create(partner=partner, by=None, name="MSP desk", email="desk@msp.example")
    incident = make_incident(tenant)
    propose(incident, "isolate_endpoint")

    to_partner = emails_of(notified(incident))[desk.email]

    assert "nothing for you to do about this incident" in to_partner.body
    assert DECISION not in to_partner.body.lower()
    assert link_purposes(to_partner) == {LinkPurpose.TASK_ACK}  # the task's link only, none of the incident's


def test_a_partner_the_customer_lets_decide_is_told_its_approvers_decide_in_the_portal() -> None:
    partner = make_partner()
    tenant = make_tenant(partner=partner, performers={"isolate_endpoint": Performer.PARTNER})
    tenant_delegation_set(tenant=tenant, by=None, partner_decides=True, partner_manages_settings=False)
    desk = contact_create(partner=partner, by=None, name="MSP desk", email="desk@msp.example")
    incident = make_incident(tenant)
    propose(incident, "isolate_endpoint")

    to_partner = emails_of(notified(incident))[desk.email]

    assert "nothing for you to do" not in to_partner.body
    assert "your approvers acknowledge, authorize or decline in the portal" in to_partner.body
    assert link_purposes(to_partner) == {LinkPurpose.TASK_ACK}  # the incident's links stay the customer's


def test_each_text_says_what_its_reader_can_do() -> None:
    tenant = make_tenant()
    approver, viewer = approver_and_viewer(tenant)
    incident = make_incident(tenant)
    propose(incident, "isolate_endpoint")

    run = notified(incident)

    sent = {t.contact_id: t for t in TextMessage.objects.filter(run=run)}
    texts = {contact_id: t.body for contact_id, t in sent.items()}
    assert set(texts) == {approver.pk, viewer.pk}
    for text in sent.values():
        assert "Ransomware on WS-0142" in text.body and "Critical" in text.body and "/l/" in text.body
        assert f"Reply 1 {text.reply_code} to acknowledge" in text.body and len(text.reply_code) == 4
    assert DECISION in texts[approver.pk].lower() and "a text reply never authorizes" in texts[approver.pk]
    assert DECISION not in texts[viewer.pk].lower()
    assert "from one of your approvers; you cannot authorize them" in texts[viewer.pk]


def test_without_anything_awaiting_authorization_nobody_is_asked_to_decide() -> None:
    tenant = make_tenant()
    approver, _ = approver_and_viewer(tenant)
    incident = make_incident(tenant)

    body = text_body(contact=approver, incident=incident)("4821")

    assert DECISION not in body.lower() and "Reply 1 4821 to acknowledge" in body


def test_each_call_says_what_the_person_called_can_do() -> None:
    tenant = make_tenant()
    approver, viewer = approver_and_viewer(tenant)
    incident = make_incident(tenant)
    propose(incident, "isolate_endpoint")

    call = call_dialing(incident, backend="simulated")
    assert call.contact_id == approver.pk
    to_approver = script_text(call_script(call.pk))
    second = CallAttempt(
        run=call.run, contact=viewer, try_number=1, sequence=2, severity_rank=0, to=str(viewer.phone)
    )
    second.save()
    to_viewer = script_text(call_script(second.pk))

    assert DECISION in to_approver.lower() and to_approver.endswith("Press 1 to acknowledge.")
    assert DECISION not in to_viewer.lower() and to_viewer.endswith("Press 1 to acknowledge.")
    assert "one of your approvers" in to_viewer
