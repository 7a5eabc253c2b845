"""A partner chooses who receives the monthly roll-up of its customers: its admins (and MDR staff allowed to
change recipients) add, remove and resend, on its page and in the API; its other people read; another
partner's people never see it. Each change is on every covered customer's settings history, an address added
again counts from then, a resend is claimed, numbered and sent once, and beat sends only to active addresses.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mdrportal.core.outbox import OutboxState
from reports.models import ReportRecipient, ReportSend
from reports.recipients import (
    partner_report_recipient_add,
    partner_report_recipient_remove,
    report_resend_request,
)
from reports.services import monthly_reports_send, report_send_deliver_requested
from tenants.models import Contact, Role, SettingsChange
from tests.credentials import api_client_for
from tests.factories import (
    as_user,
    make_analyst,
    make_lead,
    make_partner,
    make_partner_user,
    make_tenant,
    portal,
    recipients_on_record_long_ago,
)

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 4)  # beat reports February 2026
FEBRUARY = date(2026, 2, 1)


@pytest.fixture
def world() -> dict[str, Any]:
    """A partner with two customers and one roll-up recipient, its admin and viewer, another partner's admin."""
    partner = make_partner("msp")
    customers = [make_tenant(partner=partner), make_tenant(partner=partner)]
    other = make_partner("rival")
    make_tenant(partner=other)
    recipient = partner_report_recipient_add(partner=partner, by=None, email="ops@msp.example")
    return {
        "partner": partner,
        "other": other,
        "customers": customers,
        "recipient": recipient,
        "admin": make_partner_user(partner, Role.ADMIN, username="msp-admin"),
        "viewer": make_partner_user(partner, Role.VIEWER, username="msp-viewer"),
        "outsider": make_partner_user(other, Role.ADMIN, username="rival-admin"),
    }


def history(tenant: Any) -> list[tuple[str, str, Any, Any]]:
    changes = SettingsChange.objects.filter(tenant=tenant, field="report_recipient").order_by("id")
    return list(changes.values_list("actor_label", "subject", "before", "after"))


# Services


def test_the_partners_admin_adds_and_removes_on_every_customers_history(world: dict[str, Any]) -> None:
    partner, admin = world["partner"], world["admin"]
    recipient = partner_report_recipient_add(partner=partner, by=admin, email=" cfo@msp.example ")
    assert (recipient.partner, recipient.tenant, recipient.email) == (partner, None, "cfo@msp.example")
    partner_report_recipient_remove(recipient=recipient, by=admin)
    partner_report_recipient_remove(recipient=recipient, by=admin)  # removed once: one change
    subject = "cfo@msp.example (Msp's roll-up of its customers)"
    for customer in world["customers"]:
        assert history(customer)[1:] == [
            ("msp-admin (Msp partner)", subject, None, True),
            ("msp-admin (Msp partner)", subject, True, None),
        ]
    # The other partner's customers are not told: their figures are not in this roll-up.
    assert (
        not SettingsChange.objects.filter(field="report_recipient").exclude(tenant__partner=partner).exists()
    )


@pytest.mark.parametrize("who", ["viewer", "outsider"])
def test_only_the_partners_admin_changes_its_roll_up(world: dict[str, Any], who: str) -> None:
    partner, recipient, user = world["partner"], world["recipient"], world[who]
    with pytest.raises(PermissionDenied, match="Msp's admins"):
        partner_report_recipient_add(partner=partner, by=user, email="new@example.com")
    with pytest.raises(PermissionDenied):
        partner_report_recipient_remove(recipient=recipient, by=user)
    with pytest.raises(PermissionDenied):
        report_resend_request(recipient=recipient, period_start=FEBRUARY, by=user)
    recipient.refresh_from_db()
    assert recipient.active and not ReportSend.objects.exists()
    assert list(ReportRecipient.objects.values_list("email", flat=True)) == ["ops@msp.example"]


def test_an_address_is_checked_and_added_once(world: dict[str, Any]) -> None:
    partner, admin = world["partner"], world["admin"]
    with pytest.raises(ValidationError) as refused:
        partner_report_recipient_add(partner=partner, by=admin, email="not an address")
    assert "email" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        partner_report_recipient_add(partner=partner, by=admin, email="OPS@msp.example")
    assert "already" in str(refused.value.message_dict["email"])
    assert ReportRecipient.objects.count() == 1


def test_an_address_added_again_is_active_from_then_and_skips_the_months_it_was_removed(
    world: dict[str, Any],
) -> None:
    partner, admin, recipient = world["partner"], world["admin"], world["recipient"]
    recipients_on_record_long_ago()
    partner_report_recipient_remove(recipient=recipient, by=admin)
    again = partner_report_recipient_add(partner=partner, by=admin, email="ops@msp.example")
    assert again.pk == recipient.pk and again.active
    assert again.active_since.date() > date(2020, 1, 1)
    # February ended before it was added again: beat does not send it; a resend does.
    assert monthly_reports_send(today=TODAY) == 0
    assert not mail.outbox


def test_a_resend_is_claimed_numbered_and_sent_once(
    world: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    admin, recipient = world["admin"], world["recipient"]
    recipients_on_record_long_ago()
    assert monthly_reports_send(today=TODAY) == 1
    with django_capture_on_commit_callbacks() as nudges:
        send = report_resend_request(recipient=recipient, period_start=FEBRUARY, by=admin)
    assert len(nudges) == 1
    assert (send.number, send.state, send.requested_by) == (2, OutboxState.CLAIMED, "msp-admin (Msp partner)")
    assert report_send_deliver_requested(send_id=send.pk) == OutboxState.SENT
    assert report_send_deliver_requested(send_id=send.pk) is None
    assert [m.to for m in mail.outbox] == [["ops@msp.example"], ["ops@msp.example"]]
    assert mail.outbox[1].subject == "Monthly report for Msp's customers: February 2026"


def test_beat_sends_the_roll_up_to_the_partners_active_recipients_only(world: dict[str, Any]) -> None:
    partner, admin = world["partner"], world["admin"]
    gone = partner_report_recipient_add(partner=partner, by=admin, email="gone@msp.example")
    partner_report_recipient_add(partner=world["other"], by=None, email="r@rival.example")
    partner_report_recipient_remove(recipient=gone, by=admin)
    recipients_on_record_long_ago()
    assert monthly_reports_send(today=TODAY) == 2
    assert monthly_reports_send(today=TODAY) == 0
    sent = sorted((m.to[0], m.subject) for m in mail.outbox)
    assert sent == [
        ("ops@msp.example", "Monthly report for Msp's customers: February 2026"),
        ("r@rival.example", "Monthly report for Rival's customers: February 2026"),
    ]
    assert not gone.sends.exists()


# The page


def test_the_page_lists_sends_to_the_partners_people_and_lets_its_admin_change_it(
    world: dict[str, Any], fast_passwords: None
) -> None:
    partner, recipient = world["partner"], world["recipient"]
    Contact.objects.create(partner=partner, name="Pat", email="pat@msp.example", call_order=1)
    recipients_on_record_long_ago()
    monthly_reports_send(today=TODAY)
    url = reverse("partner_report_recipients", args=[partner.slug])
    viewer = portal(world["viewer"])
    page = viewer.get(url).content.decode()
    assert "ops@msp.example" in page and "2026-02: sent" in page
    assert "Send again" not in page and 'value="pat@msp.example"' not in page
    add = reverse("partner_report_recipient_add", args=[partner.slug])
    resend = reverse("partner_report_recipient_resend", args=[partner.slug, recipient.pk])
    remove = reverse("partner_report_recipient_remove", args=[partner.slug, recipient.pk])
    assert viewer.post(add, {"email": "x@example.com"}).status_code == 403
    assert viewer.post(resend, {"period": "2026-02"}).status_code == 403
    assert viewer.post(remove).status_code == 403
    admin = portal(world["admin"])
    page = admin.get(url).content.decode()
    assert 'value="pat@msp.example"' in page and "Send again" in page
    assert admin.post(add, {"known": "pat@msp.example"}).status_code == 302
    refused = admin.post(add, {"email": "ops@msp.example"})
    assert refused.status_code == 400 and "already" in refused.content.decode()
    assert admin.post(resend, {"period": "2026-02"}).status_code == 302
    assert list(recipient.sends.values_list("number", "requested_by")) == [
        (1, ""),
        (2, "msp-admin (Msp partner)"),
    ]
    assert admin.post(remove).status_code == 302
    assert sorted(ReportRecipient.objects.filter(active=True).values_list("email", flat=True)) == [
        "pat@msp.example"
    ]
    console = admin.get(reverse("partner_console", args=[partner.slug])).content.decode()
    assert f'href="{url}"' in console


def test_another_partners_people_never_see_the_page(world: dict[str, Any], fast_passwords: None) -> None:
    partner, recipient = world["partner"], world["recipient"]
    outsider = portal(world["outsider"])
    assert outsider.get(reverse("partner_report_recipients", args=[partner.slug])).status_code == 404
    add = reverse("partner_report_recipient_add", args=[partner.slug])
    assert outsider.post(add, {"email": "x@example.com"}).status_code == 404
    remove = reverse("partner_report_recipient_remove", args=[partner.slug, recipient.pk])
    assert outsider.post(remove).status_code == 404
    recipient.refresh_from_db()
    assert recipient.active and ReportRecipient.objects.count() == 1


def test_mdr_staff_read_the_page_and_only_those_allowed_change_it(
    world: dict[str, Any], fast_passwords: None
) -> None:
    partner = world["partner"]
    url = reverse("partner_report_recipients", args=[partner.slug])
    add = reverse("partner_report_recipient_add", args=[partner.slug])
    analyst = portal(make_analyst())
    assert "ops@msp.example" in analyst.get(url).content.decode()
    assert analyst.post(add, {"email": "x@example.com"}).status_code == 403
    lead = portal(make_lead())
    assert "Send again" in lead.get(url).content.decode()
    assert lead.post(add, {"email": "x@example.com"}).status_code == 302
    assert ReportRecipient.objects.filter(partner=partner, email="x@example.com").exists()
    assert history(world["customers"][0])[-1][0] == "lead"


def test_the_page_reads_in_as_many_queries_for_many_recipients_as_for_one(
    world: dict[str, Any], fast_passwords: None
) -> None:
    partner = world["partner"]
    admin = portal(world["admin"])
    recipients_on_record_long_ago()
    monthly_reports_send(today=TODAY)
    url = reverse("partner_report_recipients", args=[partner.slug])
    admin.get(url)
    with CaptureQueriesContext(connection) as one:
        admin.get(url)
    for n in range(3):
        partner_report_recipient_add(partner=partner, by=None, email=f"more{n}@msp.example")
    recipients_on_record_long_ago()
    monthly_reports_send(today=date(2026, 4, 2))
    with CaptureQueriesContext(connection) as four:
        assert admin.get(url).content.decode().count("2026-03: sent") == 4
    assert len(four) == len(one)


# The API


def api_urls(partner: Any, recipient: Any) -> dict[str, str]:
    base = f"/api/v1/partners/{partner.slug}/report-recipients/"
    return {"list": base, "one": f"{base}{recipient.pk}/", "resend": f"{base}{recipient.pk}/resend/"}


def api_writes(client: Any, partner: Any, recipient: Any) -> list[int]:
    """The status of each write: add, resend, remove."""
    url = api_urls(partner, recipient)
    return [
        client.post(url["list"], {"email": "new@example.com"}, format="json").status_code,
        client.post(url["resend"], {"period_start": "2026-02-01"}, format="json").status_code,
        client.delete(url["one"]).status_code,
    ]


@pytest.mark.parametrize(
    ("who", "reads", "writes"),
    [
        ("admin", 200, [201, 202, 204]),
        ("viewer", 200, [403, 403, 403]),
        ("outsider", 404, [404, 404, 404]),
        ("lead", 200, [201, 202, 204]),
        ("analyst", 200, [403, 403, 403]),
    ],
)
def test_the_api_answers_each_persona(world: dict[str, Any], who: str, reads: int, writes: list[int]) -> None:
    partner, recipient = world["partner"], world["recipient"]
    user = world.get(who) or {"lead": make_lead, "analyst": make_analyst}[who]()
    client = as_user(user)
    response = client.get(api_urls(partner, recipient)["list"])
    assert response.status_code == reads
    if reads == 200:
        [shown] = response.json()
        assert (shown["id"], shown["email"], shown["sends"]) == (recipient.pk, "ops@msp.example", [])
    assert api_writes(client, partner, recipient) == writes
    changed = writes[0] == 201
    assert ReportRecipient.objects.filter(email="new@example.com").exists() == changed
    assert ReportSend.objects.exists() == changed
    recipient.refresh_from_db()
    assert recipient.active != changed


def test_the_api_gives_field_errors_and_the_resend_it_queued(world: dict[str, Any]) -> None:
    partner, recipient = world["partner"], world["recipient"]
    client = as_user(world["admin"])
    url = api_urls(partner, recipient)
    refused = client.post(url["list"], {"email": "ops@msp.example"}, format="json")
    assert refused.status_code == 400 and "already" in str(refused.json()["email"])
    assert client.post(url["list"], {"email": "nope"}, format="json").status_code == 400
    early = client.post(url["resend"], {"period_start": "2999-01-01"}, format="json")
    assert early.status_code == 400 and "period" in early.json()
    queued = client.post(url["resend"], {"period_start": "2026-02-01"}, format="json").json()
    assert (queued["number"], queued["outcome"], queued["requested_by"]) == (
        1,
        "claimed",
        "msp-admin (Msp partner)",
    )
    assert report_send_deliver_requested(send_id=queued["id"]) == OutboxState.SENT
    [shown] = client.get(url["list"]).json()
    assert [(s["number"], s["outcome"]) for s in shown["sends"]] == [(1, "sent")]
    assert client.delete(url["one"]).status_code == 204
    assert client.get(url["list"]).json() == []
    # Removed: no more resends, nor a second removal.
    assert client.post(url["resend"], {"period_start": "2026-02-01"}, format="json").status_code == 404
    assert client.delete(url["one"]).status_code == 404


def test_choosing_the_roll_ups_recipients_decides_nothing_so_an_older_second_factor_will_do(
    world: dict[str, Any],
) -> None:
    """As for a tenant's recipients (reports.recipients.REPORT_RECIPIENTS, not on the deciding list): the
    role is asked, not a fresh second factor."""
    partner, recipient = world["partner"], world["recipient"]
    client = api_client_for(world["admin"], second_factor_age=timedelta(hours=13))
    assert api_writes(client, partner, recipient) == [201, 202, 204]
