"""The page an emailed link opens: a GET changes nothing; a POST records the decision once, and only that."""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from escalation.links.tokens import LinkPurpose, link_make, link_url
from escalation.models import Acknowledgment, NotificationRun, RunState, UsedLink
from escalation.runs.services import notification_start
from incidents.models import ActionStatus, Authorization, Basis, Channel, EventKind, Incident, ResponseAction
from incidents.selectors import authorization_text
from tenants.models import Contact
from tenants.services import contact_create, contact_update
from tests.factories import make_incident, make_partner, make_tenant, propose

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"


def approver(incident: Incident) -> Contact:
    return incident.tenant.contacts.order_by("call_order").first()


def ack_path(incident: Incident, contact: Contact | None = None) -> str:
    contact = contact or approver(incident)
    ids = {"tenant_id": incident.tenant_id, "contact_id": contact.pk, "incident_id": incident.pk}
    return urlsplit(link_url(purpose=LinkPurpose.ACK, **ids)).path


def authorize_path(incident: Incident, actions: list[ResponseAction], contact: Contact | None = None) -> str:
    contact = contact or approver(incident)
    url = link_url(
        purpose=LinkPurpose.AUTHORIZE,
        tenant_id=incident.tenant_id,
        contact_id=contact.pk,
        incident_id=incident.pk,
        action_ids=[a.pk for a in actions],
    )
    return urlsplit(url).path


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} field on the page"
    return match.group(1)


def decide(client: Client, path: str, decision: str = "confirm", **fields: str) -> HttpResponse:
    """Open the page as the contact would, then press a button."""
    page = client.get(path)
    form = {"decision": decision, **fields}
    if 'name="shown"' in page.content.decode():
        form.setdefault("shown", hidden(page.content.decode(), "shown"))
    return client.post(path, form, HTTP_USER_AGENT=BROWSER)


def snapshot(incident: Incident) -> tuple:
    return (
        incident.events.count(),
        Authorization.objects.filter(incident=incident).count(),
        Acknowledgment.objects.filter(incident=incident).count(),
        UsedLink.objects.count(),
        tuple(incident.actions.order_by("pk").values_list("pk", "status", "basis")),
    )


@pytest.fixture
def collaborate() -> tuple[Incident, ResponseAction, ResponseAction]:
    incident = make_incident(make_tenant())
    return (
        incident,
        propose(incident, "isolate_endpoint"),
        propose(incident, "block_ip", target="203.0.113.9"),
    )


def test_opening_an_authorize_link_shows_the_exact_actions_and_text_and_writes_nothing(collaborate) -> None:
    incident, isolate, block = collaborate
    path = authorize_path(incident, [isolate, block])
    before = snapshot(incident)
    with CaptureQueriesContext(connection) as queries:
        page = Client().get(path)
    assert page.status_code == 200
    html = page.content.decode()
    assert incident.tenant.name in html and incident.title in html and "Critical" in html
    assert "Isolate endpoint" in html and "WS-0142" in html
    assert "Block IP address" in html and "203.0.113.9" in html
    assert escape(authorization_text(incident, [isolate, block])) in html
    assert 'value="confirm"' in html and 'value="decline"' in html and 'name="statement"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert snapshot(incident) == before
    writes = [
        q["sql"] for q in queries.captured_queries if not q["sql"].lstrip().upper().startswith("SELECT")
    ]
    assert writes == []
    assert page["Cache-Control"].startswith("max-age=0") and "noindex" in page["X-Robots-Tag"]


def test_opening_an_acknowledgment_link_writes_nothing(collaborate) -> None:
    incident, _, _ = collaborate
    before = snapshot(incident)
    page = Client().get(ack_path(incident))
    assert page.status_code == 200
    assert "does <strong>not</strong> authorize" in page.content.decode()
    assert snapshot(incident) == before


def test_confirming_an_acknowledgment_link_records_it_and_stops_the_calls(collaborate) -> None:
    incident, isolate, _ = collaborate
    run = notification_start(incident=incident, by=None)
    response = decide(Client(), ack_path(incident))
    assert response.status_code == 200
    ack = Acknowledgment.objects.get(incident=incident)
    assert (ack.channel, ack.contact) == (Channel.EMAIL_LINK, approver(incident))
    event = incident.events.get(kind=EventKind.ACKNOWLEDGED)
    assert event.channel == Channel.EMAIL_LINK
    run.refresh_from_db()
    assert run.state == RunState.ACKNOWLEDGED
    isolate.refresh_from_db()
    assert isolate.status == ActionStatus.AWAITING_AUTHORIZATION  # an acknowledgment authorizes nothing


def test_confirming_an_authorize_link_queues_exactly_its_actions_with_a_written_authorization(
    collaborate,
) -> None:
    incident, isolate, block = collaborate
    path = authorize_path(incident, [isolate])
    response = decide(Client(), path, statement="  Go ahead, isolate it.  ")
    assert response.status_code == 200
    isolate.refresh_from_db()
    block.refresh_from_db()
    assert (isolate.status, isolate.basis) == (ActionStatus.QUEUED, Basis.WRITTEN_AUTHORIZATION)
    assert block.status == ActionStatus.AWAITING_AUTHORIZATION
    authorization = Authorization.objects.get(incident=incident)
    assert authorization.decision == Authorization.Decision.GRANTED
    assert (authorization.channel, authorization.contact) == (Channel.EMAIL_LINK, approver(incident))
    assert authorization.scope == [
        {"action": isolate.pk, "action_type": "isolate_endpoint", "target": "WS-0142"}
    ]
    assert authorization.text_shown == authorization_text(incident, [isolate])
    assert (authorization.ip_address, authorization.user_agent) == ("127.0.0.1", BROWSER)
    assert authorization.statement == "Go ahead, isolate it."
    assert isolate.authorization == authorization
    assert incident.events.filter(kind=EventKind.AUTHORIZATION_GIVEN, channel=Channel.EMAIL_LINK).exists()
    assert "performs these actions now" in response.content.decode()


def test_declining_an_authorize_link_declines_its_actions(collaborate) -> None:
    incident, isolate, block = collaborate
    response = decide(Client(), authorize_path(incident, [isolate, block]), decision="decline")
    assert response.status_code == 200
    assert set(incident.actions.values_list("status", flat=True)) == {ActionStatus.DECLINED}
    authorization = Authorization.objects.get(incident=incident)
    assert authorization.decision == Authorization.Decision.DECLINED
    assert incident.events.filter(kind=EventKind.AUTHORIZATION_DECLINED).exists()


@pytest.mark.parametrize("purpose", ["ack", "authorize"])
def test_a_used_link_gets_410_and_changes_nothing(collaborate, purpose) -> None:
    incident, isolate, _ = collaborate
    path = ack_path(incident) if purpose == "ack" else authorize_path(incident, [isolate])
    client = Client()
    assert decide(client, path).status_code == 200
    before = snapshot(incident)
    again = client.post(path, {"decision": "confirm"})
    assert again.status_code == 410 and "already been used" in again.content.decode()
    assert client.get(path).status_code == 410
    assert snapshot(incident) == before


def assert_refused_without_change(incident: Incident, path: str, status: int, reason: str) -> None:
    """Opening and confirming the link both answer `status`, the page says why, and nothing is written."""
    before = snapshot(incident)
    client = Client()
    assert client.get(path).status_code == status
    response = client.post(path, {"decision": "confirm"})
    assert response.status_code == status and reason in response.content.decode()
    assert snapshot(incident) == before


def test_an_altered_link_gets_400_and_changes_nothing(collaborate) -> None:
    incident, isolate, _ = collaborate
    path = authorize_path(incident, [isolate])
    altered = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
    assert_refused_without_change(incident, altered, 400, "not valid")


def test_an_expired_link_gets_410_and_changes_nothing(collaborate, monkeypatch, settings) -> None:
    incident, isolate, _ = collaborate
    past = int(time.time()) - (settings.LINK_MAX_AGE_HOURS + 1) * 3600
    with monkeypatch.context() as patch:
        patch.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(past))
        path = authorize_path(incident, [isolate])
    assert_refused_without_change(incident, path, 410, "expired")


def test_a_link_cannot_reach_an_action_of_another_incident(collaborate) -> None:
    incident, isolate, _ = collaborate
    other_incident = make_incident(incident.tenant)
    other = propose(other_incident, "disable_user", target="ceo@corp.example")
    # Even validly signed (as a bug elsewhere might mint it), a scope outside the incident is refused.
    token = link_make(
        purpose=LinkPurpose.AUTHORIZE,
        tenant_id=incident.tenant_id,
        contact_id=approver(incident).pk,
        incident_id=incident.pk,
        action_ids=[isolate.pk, other.pk],
    )
    before, other_before = snapshot(incident), snapshot(other_incident)
    client = Client()
    assert client.get(f"/l/{token}/").status_code == 400
    assert client.post(f"/l/{token}/", {"decision": "confirm"}).status_code == 400
    assert (snapshot(incident), snapshot(other_incident)) == (before, other_before)
    other.refresh_from_db()
    assert other.status == ActionStatus.AWAITING_AUTHORIZATION


def test_a_forged_scope_on_a_genuine_link_is_refused(collaborate) -> None:
    incident, isolate, _ = collaborate
    other = propose(make_incident(incident.tenant), "disable_user", target="ceo@corp.example")
    token = authorize_path(incident, [isolate]).split("/")[2]
    payload, stamp, signature = token.split(":")
    data = signing.JSONSerializer().loads(signing.b64_decode(payload.encode()))
    data["i"], data["s"] = other.incident_id, [other.pk]
    forged = signing.b64_encode(signing.JSONSerializer().dumps(data)).decode()
    response = Client().post(f"/l/{forged}:{stamp}:{signature}/", {"decision": "confirm"})
    assert response.status_code == 400
    other.refresh_from_db()
    assert other.status == ActionStatus.AWAITING_AUTHORIZATION
    assert not Authorization.objects.exists()


def test_a_link_of_another_tenants_contact_is_refused(collaborate) -> None:
    incident, isolate, _ = collaborate
    outsider = approver(make_incident(make_tenant()))
    token = link_make(
        purpose=LinkPurpose.AUTHORIZE,
        tenant_id=incident.tenant_id,
        contact_id=outsider.pk,
        incident_id=incident.pk,
        action_ids=[isolate.pk],
    )
    before = snapshot(incident)
    assert Client().post(f"/l/{token}/", {"decision": "confirm"}).status_code == 400
    assert snapshot(incident) == before


def test_actions_decided_since_the_email_get_a_clear_page_and_nothing_changes(collaborate) -> None:
    incident, isolate, block = collaborate
    first, second = incident.tenant.contacts.order_by("call_order")
    late_path = authorize_path(incident, [isolate, block], contact=second)
    assert decide(Client(), authorize_path(incident, [isolate], contact=first), "decline").status_code == 200
    before = snapshot(incident)
    client = Client()
    page = client.get(late_path)
    assert page.status_code == 409
    assert "no longer await authorization" in page.content.decode()
    response = client.post(late_path, {"decision": "confirm", "shown": "anything"})
    assert response.status_code == 409
    assert snapshot(incident) == before


def test_a_decision_the_service_refuses_leaves_the_link_usable(collaborate) -> None:
    incident, isolate, _ = collaborate
    contact = approver(incident)
    path = authorize_path(incident, [isolate], contact=contact)
    client = Client()
    shown = hidden(client.get(path).content.decode(), "shown")
    contact_update(contact=contact, by=None, can_authorize=False)
    before = snapshot(incident)
    refused = client.post(path, {"decision": "confirm", "shown": shown})
    assert refused.status_code == 403 and "cannot be recorded" in refused.content.decode()
    assert snapshot(incident) == before
    contact_update(contact=contact, by=None, can_authorize=True)
    assert client.post(path, {"decision": "confirm", "shown": shown}).status_code == 200
    isolate.refresh_from_db()
    assert isolate.status == ActionStatus.QUEUED


def test_an_incident_changed_since_the_page_was_shown_is_not_decided_on(collaborate) -> None:
    incident, isolate, _ = collaborate
    path = authorize_path(incident, [isolate])
    client = Client()
    shown = hidden(client.get(path).content.decode(), "shown")
    Incident.objects.filter(pk=incident.pk).update(title="Something else entirely")
    before = snapshot(incident)
    assert client.post(path, {"decision": "confirm", "shown": shown}).status_code == 409
    assert snapshot(incident) == before


def test_a_post_without_a_decision_changes_nothing(collaborate) -> None:
    incident, isolate, _ = collaborate
    before = snapshot(incident)
    assert Client().post(authorize_path(incident, [isolate]), {}).status_code == 400
    assert Client().post(ack_path(incident), {"decision": "decline"}).status_code == 403
    assert snapshot(incident) == before


def test_posting_without_the_csrf_token_is_refused(collaborate) -> None:
    incident, isolate, _ = collaborate
    path = authorize_path(incident, [isolate])
    client = Client(enforce_csrf_checks=True)
    before = snapshot(incident)
    assert client.post(path, {"decision": "confirm"}).status_code == 403
    assert snapshot(incident) == before
    html = client.get(path).content.decode()
    form = {
        "decision": "confirm",
        "shown": hidden(html, "shown"),
        "csrfmiddlewaretoken": hidden(html, "csrfmiddlewaretoken"),
    }
    assert client.post(path, form).status_code == 200
    isolate.refresh_from_db()
    assert isolate.status == ActionStatus.QUEUED


def test_a_partner_contact_cannot_acknowledge_for_the_customer() -> None:
    partner = make_partner("msp")
    desk = contact_create(partner=partner, by=None, name="MSP Desk", email="desk@msp.example")
    incident = make_incident(make_tenant(partner=partner))
    before = snapshot(incident)
    response = decide(Client(), ack_path(incident, contact=desk))
    assert response.status_code == 403
    assert snapshot(incident) == before


def test_the_notification_run_is_untouched_by_opening_links(collaborate) -> None:
    incident, isolate, _ = collaborate
    run = notification_start(incident=incident, by=None)
    Client().get(ack_path(incident))
    Client().get(authorize_path(incident, [isolate]))
    assert NotificationRun.objects.get(pk=run.pk).state == RunState.ACTIVE
