"""What each email says: it follows the incident's policy snapshot, and carries the links its contact may use."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.core import mail
from django.db import transaction

from escalation.emails.send import email_send
from escalation.emails.services import emails_claim
from escalation.links.tokens import Link, LinkPurpose, link_read
from escalation.models import NotificationRun, RunPurpose
from escalation.runs.services import notification_start, run_advance
from incidents.execution import action_run
from incidents.models import ActionStatus, Incident, ResponseAction
from incidents.services import incident_open, incident_take_fallback
from tenants.models import ResponseMode, Tenant, Tier
from tenants.services import contact_create
from tests.factories import make_partner, make_tenant, propose

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def locmem_mail(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def ransomware(tenant: Tenant) -> Incident:
    return incident_open(
        tenant=tenant,
        title="Ransomware on WS-0142",
        by=None,
        severity="critical",
        observed_activity="LockBit encryptor started from a phishing attachment on WS-0142.",
        recommendations="Isolate WS-0142 and reset the user's password.",
    )


def send_all(run: NotificationRun) -> dict[str, mail.EmailMultiAlternatives]:
    """Send the run's emails; returns each message by recipient address."""
    for pk in run.emails.values_list("pk", flat=True):
        email_send(pk)
    return {m.to[0]: m for m in mail.outbox}


def notify(incident: Incident) -> dict[str, mail.EmailMultiAlternatives]:
    run = notification_start(incident=incident, by=None)
    run_advance(run.pk)
    return send_all(run)


def links(message: mail.EmailMultiAlternatives) -> dict[LinkPurpose, Link]:
    pattern = re.escape(settings.PUBLIC_BASE_URL) + r"/l/([^/\s\"<]+)/"
    found = [link_read(token) for token in re.findall(pattern, message.body)]
    html = message.alternatives[0][0]
    assert sorted(re.findall(pattern, html)) == sorted(re.findall(pattern, message.body))
    return {link.purpose: link for link in found}


def test_collaborate_email_says_who_does_each_action_and_links_the_approver_to_the_awaiting_ones() -> None:
    partner = make_partner("msp")
    tenant = make_tenant(
        tier=Tier.ESSENTIALS,
        partner=partner,
        performers={"block_ip": "partner", "disable_user": "customer"},
    )
    incident = ransomware(tenant)
    isolate = propose(incident, "isolate_endpoint")
    block = propose(incident, "block_ip", target="203.0.113.9")
    disable = propose(incident, "disable_user", target="alice@corp.example")
    clean = propose(incident, "clean_malware")
    first = tenant.contacts.order_by("call_order").first()
    message = notify(incident)[first.email]
    body = message.body
    assert "LockBit encryptor started" in body
    assert "Isolate WS-0142 and reset" in body
    assert "Isolate endpoint on WS-0142" in body and "Awaits your written authorization" in body
    assert "Block IP address on 203.0.113.9" in body and "To be done by your partner, Msp." in body
    assert "Disable user account on alice@corp.example" in body and "To be done by your team." in body
    assert "Clean and remove malware on WS-0142" in body and "MDR Essentials does not include" in body
    assert "[Critical]" in message.subject and f"incident #{incident.pk}" in message.subject
    assert message.alternatives[0][1] == "text/html"
    assert "LockBit encryptor started" in message.alternatives[0][0]
    found = links(message)
    assert set(found) == {LinkPurpose.ACK, LinkPurpose.AUTHORIZE}
    assert found[LinkPurpose.AUTHORIZE].scope == (isolate.pk,)
    assert (found[LinkPurpose.AUTHORIZE].contact_id, found[LinkPurpose.AUTHORIZE].incident_id) == (
        first.pk,
        incident.pk,
    )
    assert found[LinkPurpose.ACK].tenant_id == tenant.pk
    assert block.status == disable.status == clean.status == ActionStatus.RECOMMENDED


def test_contacts_who_may_not_authorize_get_only_the_acknowledgment_link() -> None:
    tenant = make_tenant(phones=1)
    viewer = contact_create(tenant=tenant, by=None, name="Viewer", email="viewer@t.example")
    incident = ransomware(tenant)
    propose(incident, "isolate_endpoint")
    sent = notify(incident)
    assert set(links(sent[viewer.email])) == {LinkPurpose.ACK}
    assert "YOUR WRITTEN AUTHORIZATION" not in sent[viewer.email].body
    approver = tenant.contacts.get(call_order=1)
    assert set(links(sent[approver.email])) == {LinkPurpose.ACK, LinkPurpose.AUTHORIZE}


def test_nothing_awaiting_authorization_means_no_authorization_link() -> None:
    tenant = make_tenant(performers={"isolate_endpoint": "customer"})
    incident = ransomware(tenant)
    propose(incident, "isolate_endpoint")
    for message in notify(incident).values():
        assert set(links(message)) == {LinkPurpose.ACK}


def test_the_authorization_link_covers_exactly_what_awaits_authorization_when_the_email_is_composed() -> None:
    tenant = make_tenant(phones=1)
    incident = ransomware(tenant)
    isolate = propose(incident, "isolate_endpoint")
    block = propose(incident, "block_ip", target="198.51.100.7")
    run = notification_start(incident=incident, by=None)
    run_advance(run.pk)
    propose(incident, "disable_user", target="alice@corp.example")  # after the claim, before the send
    message = send_all(run)[tenant.contacts.get().email]
    scope = links(message)[LinkPurpose.AUTHORIZE].scope
    awaiting = ResponseAction.objects.filter(incident=incident, status=ActionStatus.AWAITING_AUTHORIZATION)
    assert scope == tuple(sorted(awaiting.values_list("pk", flat=True)))
    assert {isolate.pk, block.pk} < set(scope)


def test_partner_contacts_get_only_the_actions_delegated_to_the_partner_and_a_link_per_task() -> None:
    partner = make_partner("msp")
    desk = contact_create(
        partner=partner, by=None, name="MSP Desk", email="desk@msp.example", can_authorize=True
    )
    tenant = make_tenant(partner=partner, performers={"block_ip": "partner"})
    incident = ransomware(tenant)
    propose(incident, "isolate_endpoint", target="WS-SECRET-9")
    propose(incident, "block_ip", target="203.0.113.9")
    message = notify(incident)[desk.email]
    assert "Block IP address on 203.0.113.9 [Recommended]" in message.body
    assert f"Delegated to you by {tenant.name}" in message.body
    assert "WS-SECRET-9" not in message.body and "WS-SECRET-9" not in message.alternatives[0][0]
    assert "Isolate endpoint" not in message.body
    task = incident.actions.get(action_type__code="block_ip")
    link = links(message)[LinkPurpose.TASK_ACK]
    assert set(links(message)) == {LinkPurpose.TASK_ACK}  # nothing acknowledges or authorizes the incident
    assert (link.scope, link.contact_id) == ((task.pk,), desk.pk)
    assert "/tasks/" in message.body
    assert "delegated" in message.subject


def test_authorize_mode_email_tells_what_mdr_ops_did_and_what_needs_the_customer() -> None:
    tenant = make_tenant(mode=ResponseMode.AUTHORIZE, tier=Tier.ESSENTIALS, phones=1)
    incident = ransomware(tenant)
    isolate = propose(incident, "isolate_endpoint")
    propose(incident, "clean_malware")
    action_run(isolate.pk)
    message = notify(incident)[tenant.contacts.get().email]
    done, needs_you = message.body.split("WHAT MDR OPS DID", 1)[1].split("WHAT NEEDS YOU", 1)
    assert "Isolate endpoint on WS-0142 [Succeeded]" in done
    assert "Clean and remove malware" not in done
    assert "Clean and remove malware on WS-0142" in needs_you and "Customer action required" in needs_you
    assert "MDR Ops responded" in message.subject
    assert set(links(message)) == {LinkPurpose.ACK}


def test_report_email_says_nobody_answered_and_what_mdr_ops_did_with_each_status() -> None:
    tenant = make_tenant(fallback=True, tier=Tier.ESSENTIALS, phones=1)
    incident = ransomware(tenant)
    isolate = propose(incident, "isolate_endpoint")
    block = propose(incident, "block_ip", target="203.0.113.9")
    propose(incident, "clean_malware")
    incident_take_fallback(incident=incident, attempts=[{"call": 1, "outcome": "no_answer"}])
    action_run(isolate.pk)
    with transaction.atomic():
        run = NotificationRun.objects.create(incident=incident, purpose=RunPurpose.REPORT)
        emails_claim(run)
    message = send_all(run)[tenant.contacts.get().email]
    assert "nobody acknowledged" in message.body
    done = message.body.split("WHAT MDR OPS DID", 1)[1].split("WHAT STILL NEEDS YOU", 1)[0]
    assert "Isolate endpoint on WS-0142 [Succeeded]" in done
    assert f"Block IP address on {block.target} [Queued for execution]" in done
    assert "Clean and remove malware" not in done
    assert "nobody answered" in message.subject
    assert "We phoned 1 contact (1 call) and nobody acknowledged" in message.alternatives[0][0]


def test_a_title_with_a_line_break_cannot_inject_headers() -> None:
    tenant = make_tenant(phones=1)
    incident = ransomware(tenant)
    Incident.objects.filter(pk=incident.pk).update(title="Ransomware\r\nBcc: attacker@evil.example")
    message = notify(Incident.objects.get(pk=incident.pk))[tenant.contacts.get().email]
    assert "\n" not in message.subject and "\r" not in message.subject
    assert message.recipients() == [tenant.contacts.get().email]
    assert message.message()["Bcc"] is None
