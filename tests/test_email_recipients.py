"""Who a run emails: the tenant's active contacts with an address; the partner's when actions are delegated."""

from __future__ import annotations

import pytest
from django.db import transaction

from escalation.emails.services import emails_claim
from escalation.models import EmailKind, EmailNotification, NotificationRun, RunPurpose
from escalation.runs.services import notification_start, run_advance
from incidents.models import Incident
from mdrportal.core.outbox import OutboxState
from tenants.models import Contact, Partner, ResponseMode, Tenant
from tenants.services import contact_create
from tests.factories import make_incident, make_partner, make_tenant, propose

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def locmem_mail(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def partner_with_contacts() -> Partner:
    partner = make_partner("msp")
    contact_create(partner=partner, by=None, name="MSP Desk", email="desk@msp.example", can_authorize=True)
    contact_create(partner=partner, by=None, name="MSP No Mail", phone="+12025550177")
    contact_create(partner=partner, by=None, name="MSP Gone", email="gone@msp.example", active=False)
    return partner


def extra_contacts(tenant: Tenant) -> None:
    contact_create(tenant=tenant, by=None, name="Phone Only", phone="+12025550188", can_authorize=True)
    contact_create(tenant=tenant, by=None, name="Left", email="left@t.example", active=False)
    contact_create(tenant=tenant, by=None, name="Viewer", email="viewer@t.example")


def notified(incident: Incident) -> NotificationRun:
    """A notification run after its first step: the step claims the emails."""
    run = notification_start(incident=incident, by=None)
    run_advance(run.pk)
    return run


def recipients(run: NotificationRun) -> list[tuple[str, str]]:
    return list(run.emails.order_by("id").values_list("contact__name", "to"))


def test_collaborate_emails_every_active_tenant_contact_with_an_address() -> None:
    tenant = make_tenant()
    extra_contacts(tenant)
    incident = make_incident(tenant)
    propose(incident, "isolate_endpoint")
    run = notified(incident)
    emails = list(run.emails.order_by("id"))
    assert [e.contact.name for e in emails] == [
        f"Contact {tenant.name.split()[-1]}.1",
        f"Contact {tenant.name.split()[-1]}.2",
        "Viewer",
    ]
    assert {e.kind for e in emails} == {EmailKind.NOTIFY}
    assert {e.state for e in emails} == {OutboxState.CLAIMED}
    assert [e.to for e in emails] == [e.contact.email for e in emails]


def test_partner_contacts_are_emailed_when_an_action_is_delegated_to_the_partner() -> None:
    partner = partner_with_contacts()
    tenant = make_tenant(partner=partner, performers={"block_ip": "partner"})
    incident = make_incident(tenant)
    propose(incident, "isolate_endpoint")
    propose(incident, "block_ip", target="203.0.113.9")
    names = [name for name, _ in recipients(notified(incident))]
    assert "MSP Desk" in names
    assert "MSP No Mail" not in names and "MSP Gone" not in names
    assert len(names) == 3  # two tenant contacts and the partner's desk


def test_partner_contacts_are_not_emailed_when_nothing_is_delegated_to_them() -> None:
    partner = partner_with_contacts()
    tenant = make_tenant(partner=partner, performers={"block_ip": "partner"})
    incident = make_incident(tenant)
    propose(incident, "isolate_endpoint")  # performed by MDR Ops once authorized
    names = [name for name, _ in recipients(notified(incident))]
    assert "MSP Desk" not in names
    assert len(names) == 2


def test_authorize_mode_emails_the_tenant_contacts_once_the_actions_have_settled() -> None:
    from incidents.execution import action_run

    tenant = make_tenant(mode=ResponseMode.AUTHORIZE)
    incident = make_incident(tenant)
    action_run(propose(incident, "isolate_endpoint").pk)
    run = notified(incident)
    assert len(recipients(run)) == 2
    assert set(run.emails.values_list("kind", flat=True)) == {EmailKind.NOTIFY}


def test_a_report_run_emails_the_tenant_contacts_only() -> None:
    partner = partner_with_contacts()
    tenant = make_tenant(partner=partner, performers={"block_ip": "partner"}, fallback=True)
    incident = make_incident(tenant)
    propose(incident, "block_ip", target="203.0.113.9")
    with transaction.atomic():
        run = NotificationRun.objects.create(incident=incident, purpose=RunPurpose.REPORT)
        emails = emails_claim(run)
    assert [e.contact.tenant_id for e in emails] == [tenant.pk, tenant.pk]
    assert {e.kind for e in emails} == {EmailKind.REPORT}


def test_claiming_again_emails_nobody_twice() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    with transaction.atomic():
        run = NotificationRun.objects.create(incident=incident)
        first = emails_claim(run)
        again = emails_claim(run)
    assert len(first) == 2
    assert again == []
    assert EmailNotification.objects.filter(run=run).count() == 2


def test_each_claimed_email_is_nudged_only_after_commit(django_capture_on_commit_callbacks) -> None:
    incident = make_incident(make_tenant(phones=3))
    with django_capture_on_commit_callbacks(execute=False) as callbacks, transaction.atomic():
        run = NotificationRun.objects.create(incident=incident)
        emails_claim(run)
    assert len(callbacks) == 3


def test_a_broker_that_is_down_leaves_the_rows_for_the_sweeper(
    django_capture_on_commit_callbacks, monkeypatch, caplog
) -> None:
    from kombu.exceptions import OperationalError

    from mdrportal.celery import app

    def down(*args: object, **kwargs: object) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(app, "send_task", down)
    incident = make_incident(make_tenant())
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        run = NotificationRun.objects.create(incident=incident)
        emails_claim(run)
    assert set(run.emails.values_list("state", flat=True)) == {OutboxState.CLAIMED}
    assert "the sweeper will" in caplog.text


def test_contacts_of_another_tenant_are_never_emailed() -> None:
    other = make_tenant()
    tenant = make_tenant()
    run = notified(make_incident(tenant))
    assert not run.emails.filter(contact__in=Contact.objects.filter(tenant=other)).exists()
