"""The monthly report's recipients as the tenant chooses them: the off switch stops beat, on again sends
nothing past, a resend is asked for, recorded and sent exactly once more, and every change is on the settings
history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from mdrportal.core import task_names
from mdrportal.core.outbox import OutboxState
from reports import tasks
from reports.models import MonthlyReport, ReportRecipient, ReportSend
from reports.recipients import (
    monthly_report_switch,
    report_recipient_add,
    report_recipient_remove,
    report_resend_request,
)
from reports.services import monthly_reports_send, report_resends_deliver, report_send_deliver_requested
from tenants.models import Role, SettingsChange
from tenants.services import contact_create
from tests.admin_pages import page_data
from tests.factories import (
    login_verified,
    make_lead,
    make_member,
    make_partner,
    make_partner_user,
    make_tenant,
    portal,
    recipients_on_record_long_ago,
)

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 4)  # beat reports February 2026
FEBRUARY = date(2026, 2, 1)


def history(tenant: Any) -> list[tuple[str, str, Any, Any]]:
    fields = ("report_recipient", "monthly_report")
    changes = SettingsChange.objects.filter(tenant=tenant, field__in=fields).order_by("id")
    return list(changes.values_list("field", "subject", "before", "after"))


def test_turned_off_beat_sends_the_tenant_nothing_and_a_partners_roll_up_still_goes() -> None:
    partner = make_partner()
    tenant = make_tenant(partner=partner)
    admin = make_member(tenant, Role.ADMIN)
    report_recipient_add(tenant=tenant, by=admin, email="cfo@example.com")
    ReportRecipient.objects.create(partner=partner, email="msp@example.com")
    monthly_report_switch(tenant=tenant, by=admin, enabled=False)
    recipients_on_record_long_ago()
    assert monthly_reports_send(today=TODAY) == 1
    assert [m.to for m in mail.outbox] == [["msp@example.com"]]
    assert history(tenant) == [
        ("report_recipient", "cfo@example.com", None, True),
        ("monthly_report", "", True, False),
    ]
    assert SettingsChange.objects.filter(tenant=tenant, field="monthly_report").get().actor == admin


def test_turned_back_on_it_sends_no_period_that_ended_while_it_was_off() -> None:
    tenant = make_tenant()
    report_recipient_add(tenant=tenant, by=None, email="cfo@example.com")
    monthly_report_switch(tenant=tenant, by=None, enabled=False)
    MonthlyReport.objects.filter(tenant=tenant).update(changed_at=datetime(2026, 2, 20, tzinfo=UTC))
    monthly_report_switch(tenant=tenant, by=None, enabled=True)
    MonthlyReport.objects.filter(tenant=tenant).update(changed_at=datetime(2026, 3, 2, tzinfo=UTC))
    recipients_on_record_long_ago()
    assert monthly_reports_send(today=TODAY) == 0  # February's report was due on March 1st, while off
    assert monthly_reports_send(today=date(2026, 4, 1)) == 1  # March's was due after it came back on
    assert ReportSend.objects.get().period_start == date(2026, 3, 1)


def test_an_address_added_after_a_month_ended_gets_that_month_only_on_request() -> None:
    tenant = make_tenant()
    early = report_recipient_add(tenant=tenant, by=None, email="cfo@example.com")
    late = report_recipient_add(tenant=tenant, by=None, email="ciso@example.com")
    ReportRecipient.objects.filter(pk=early.pk).update(active_since=datetime(2026, 2, 27, tzinfo=UTC))
    ReportRecipient.objects.filter(pk=late.pk).update(active_since=datetime(2026, 3, 2, tzinfo=UTC))
    assert monthly_reports_send(today=TODAY) == 1  # February: only the address added in February
    assert [m.to for m in mail.outbox] == [["cfo@example.com"]]
    assert monthly_reports_send(today=date(2026, 4, 1)) == 2  # March: both


def test_an_address_added_again_does_not_get_the_month_that_ended_while_it_was_removed() -> None:
    tenant = make_tenant()
    recipient = report_recipient_add(tenant=tenant, by=None, email="cfo@example.com")
    recipients_on_record_long_ago()
    report_recipient_remove(recipient=recipient, by=None)
    report_recipient_add(tenant=tenant, by=None, email="cfo@example.com")  # added again after November
    assert monthly_reports_send() == 0  # November's report ended while it was removed
    assert not ReportSend.objects.exists()
    report_resend_request(recipient=recipient, period_start=date(2026, 11, 1), by=None)
    assert ReportSend.objects.get().period_start == date(2026, 11, 1)  # on request it is sent


def test_a_partners_address_switched_back_on_in_the_admin_counts_from_then(
    lead_client: Client,
) -> None:
    partner = make_partner()
    recipient = ReportRecipient.objects.create(partner=partner, email="msp@example.com", active=False)
    recipients_on_record_long_ago()
    page = lead_client.get(reverse("admin:reports_reportrecipient_change", args=[recipient.pk]))
    data = page_data(page)
    data["active"] = "on"
    assert (
        lead_client.post(
            reverse("admin:reports_reportrecipient_change", args=[recipient.pk]), data
        ).status_code
        == 302
    )
    recipient.refresh_from_db()
    assert recipient.active and recipient.active_since > timezone.now() - timedelta(minutes=1)
    assert monthly_reports_send() == 0  # last month ended while it was off


def test_turning_it_off_twice_is_one_change() -> None:
    tenant = make_tenant()
    monthly_report_switch(tenant=tenant, by=None, enabled=False)
    monthly_report_switch(tenant=tenant, by=None, enabled=False)
    assert history(tenant) == [("monthly_report", "", True, False)]


def test_a_removed_recipient_gets_no_report_keeps_its_record_and_may_be_added_again() -> None:
    tenant = make_tenant()
    recipient = report_recipient_add(tenant=tenant, by=None, email="cfo@example.com")
    recipients_on_record_long_ago()
    monthly_reports_send(today=TODAY)
    report_recipient_remove(recipient=recipient, by=None)
    assert monthly_reports_send(today=date(2026, 4, 2)) == 0
    assert recipient.sends.count() == 1
    with pytest.raises(ValidationError):
        report_recipient_add(tenant=tenant, by=None, email="not an address")
    again = report_recipient_add(tenant=tenant, by=None, email="CFO@example.com")
    assert again.pk == recipient.pk and again.active
    with pytest.raises(ValidationError) as refused:
        report_recipient_add(tenant=tenant, by=None, email="cfo@example.com")
    assert "already" in str(refused.value.message_dict["email"])
    assert [row[3] for row in history(tenant)] == [True, None, True]


def test_a_resend_is_recorded_and_sends_exactly_once_more(django_capture_on_commit_callbacks: Any) -> None:
    tenant = make_tenant()
    admin = make_member(tenant, Role.ADMIN)
    recipient = report_recipient_add(tenant=tenant, by=admin, email="cfo@example.com")
    recipients_on_record_long_ago()
    monthly_reports_send(today=TODAY)
    with django_capture_on_commit_callbacks() as nudges:
        send = report_resend_request(recipient=recipient, period_start=FEBRUARY, by=admin)
    assert len(nudges) == 1
    assert tasks.report_send_deliver.name == task_names.REPORT_SEND_DELIVER
    assert (send.number, send.state, send.requested_by) == (2, OutboxState.CLAIMED, admin.username)
    assert report_send_deliver_requested(send_id=send.pk) == OutboxState.SENT
    assert report_send_deliver_requested(send_id=send.pk) is None  # a message delivered twice sends once
    assert report_resends_deliver(before=timezone.now() + timedelta(hours=1)) == 0
    assert monthly_reports_send(today=TODAY) == 0
    assert len(mail.outbox) == 2
    assert list(recipient.sends.values_list("number", "state", "requested_by")) == [
        (1, "sent", ""),
        (2, "sent", admin.username),
    ]


def test_a_resend_whose_nudge_was_lost_is_sent_by_the_sweeper_once() -> None:
    tenant = make_tenant()
    recipient = report_recipient_add(tenant=tenant, by=None, email="cfo@example.com")
    monthly_report_switch(tenant=tenant, by=None, enabled=False)  # a resend is not beat's: it goes while off
    lead = make_member(tenant, Role.ADMIN)
    report_resend_request(recipient=recipient, period_start=FEBRUARY, by=lead)
    later = timezone.now() + timedelta(hours=1)
    assert report_resends_deliver() == 0  # its worker still has time to take it
    assert report_resends_deliver(before=later) == 1
    assert report_resends_deliver(before=later) == 0
    assert len(mail.outbox) == 1


def test_a_resend_is_of_a_month_that_has_ended() -> None:
    tenant = make_tenant()
    recipient = report_recipient_add(tenant=tenant, by=None, email="cfo@example.com")
    this_month = timezone.now().date().replace(day=1)
    for period_start in (this_month, this_month.replace(day=2) if this_month.day == 1 else this_month):
        with pytest.raises(ValidationError) as refused:
            report_resend_request(recipient=recipient, period_start=period_start, by=None)
        assert "period" in refused.value.message_dict
    assert not ReportSend.objects.exists()


def test_a_partners_roll_up_resent_by_the_system_names_the_system() -> None:
    partner = make_partner()
    recipient = ReportRecipient.objects.create(partner=partner, email="msp@example.com")
    send = report_resend_request(recipient=recipient, period_start=FEBRUARY, by=None)
    assert send.requested_by == "system"


def test_a_partners_recipient_is_not_removed_as_a_tenants() -> None:
    recipient = ReportRecipient.objects.create(partner=make_partner(), email="msp@example.com")
    with pytest.raises(ValueError, match="partner"):
        report_recipient_remove(recipient=recipient, by=None)
    recipient.refresh_from_db()
    assert recipient.active


@pytest.mark.parametrize(
    ("delegated", "allowed"), [(False, False), (True, True)], ids=["without delegation", "with delegation"]
)
def test_a_partners_admin_changes_recipients_only_under_the_settings_delegation(
    delegated: bool, allowed: bool
) -> None:
    partner = make_partner()
    tenant = make_tenant(partner=partner)
    tenant.partner_manages_settings = delegated
    tenant.save()
    partner_admin = make_partner_user(partner, Role.ADMIN)
    if not allowed:
        with pytest.raises(PermissionDenied):
            report_recipient_add(tenant=tenant, by=partner_admin, email="cfo@example.com")
        assert not ReportRecipient.objects.exists()
        return
    report_recipient_add(tenant=tenant, by=partner_admin, email="cfo@example.com")
    [change] = SettingsChange.objects.filter(tenant=tenant, field="report_recipient")
    assert partner.name in change.actor_label


def test_the_page_lists_recipients_and_sends_and_an_admin_adds_one_of_the_contacts(
    fast_passwords: None,
) -> None:
    tenant = make_tenant()
    contact_create(tenant=tenant, by=None, name="Dana", email="dana@example.com")
    recipient = report_recipient_add(tenant=tenant, by=None, email="cfo@example.com")
    recipients_on_record_long_ago()
    monthly_reports_send(today=TODAY)
    viewer = portal(make_member(tenant, Role.VIEWER))
    page = viewer.get(reverse("reports:recipients")).content.decode()
    assert "cfo@example.com" in page and "2026-02: sent" in page
    assert "Send again" not in page and 'value="dana@example.com"' not in page
    admin = portal(make_member(tenant, Role.ADMIN))
    page = admin.get(reverse("reports:recipients")).content.decode()
    assert 'value="dana@example.com"' in page
    response = admin.post(reverse("reports:recipient_add"), {"known": "dana@example.com"})
    assert response.status_code == 302
    refused = admin.post(reverse("reports:recipient_add"), {})
    assert refused.status_code == 400 and "one of them" in refused.content.decode()
    admin.post(reverse("reports:recipient_resend", args=[recipient.pk]), {"period": "2026-02"})
    assert list(recipient.sends.values_list("number", "requested_by")) == [(1, ""), (2, admin_name(tenant))]
    admin.post(reverse("reports:monthly_switch"), {})
    assert "off" in admin.get(reverse("reports:recipients")).content.decode()
    assert not MonthlyReport.objects.get(tenant=tenant).enabled
    settings_page = admin.get(reverse("tenants:settings")).content.decode()
    assert "Monthly report recipient: dana@example.com" in settings_page
    assert "Monthly report email" in settings_page


def admin_name(tenant: Any) -> str:
    return tenant.memberships.get(role=Role.ADMIN).user.username


def test_a_lead_resends_a_chosen_month_from_the_admin_and_not_one_that_has_not_ended(
    fast_passwords: None,
) -> None:
    tenant = make_tenant()
    recipient = report_recipient_add(tenant=tenant, by=None, email="cfo@example.com")
    lead = Client()
    login_verified(lead, make_lead())
    url = reverse("admin:reports_reportrecipient_changelist")
    action = {"action": "resend_last_month", "_selected_action": [recipient.pk]}
    response = lead.post(url, {**action, "period": "2026-01"}, follow=True)
    assert "1 report of 2026-01 to send again" in response.content.decode()
    assert report_send_deliver_requested(send_id=recipient.sends.get().pk) == OutboxState.SENT  # the worker
    next_month = (timezone.now().date().replace(day=1) + timedelta(days=32)).strftime("%Y-%m")
    for month, said in ((next_month, "Choose a month that has ended."), ("soon", "YYYY-MM")):
        response = lead.post(url, {**action, "period": month}, follow=True)
        assert said in response.content.decode()
    assert list(recipient.sends.values_list("period_start", "number", "requested_by")) == [
        (date(2026, 1, 1), 1, "lead")
    ]
    assert len(mail.outbox) == 1


def test_the_page_reads_in_as_many_queries_for_many_recipients_as_for_one(
    fast_passwords: None,
) -> None:
    tenant = make_tenant()
    admin = portal(make_member(tenant, Role.ADMIN))
    report_recipient_add(tenant=tenant, by=None, email="first@example.com")
    recipients_on_record_long_ago()
    monthly_reports_send(today=TODAY)
    url = reverse("reports:recipients")
    admin.get(url)
    with CaptureQueriesContext(connection) as one:
        admin.get(url)
    for n in range(3):
        report_recipient_add(tenant=tenant, by=None, email=f"more{n}@example.com")
    recipients_on_record_long_ago()
    monthly_reports_send(today=date(2026, 4, 2))
    with CaptureQueriesContext(connection) as four:
        assert admin.get(url).content.decode().count("2026-03: sent") == 4
    assert len(four) == len(one)
