"""Words from facts: every message that reports what MDR Ops did, for every basis it can rest on, tells that
basis and no other, and states nothing the incident's timeline does not hold (DESIGN rule 14)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core import mail
from django.db import transaction

from escalation.emails.send import email_send
from escalation.emails.services import emails_claim
from escalation.models import CallAttempt, CallOutcome, NotificationRun, RunPurpose
from escalation.phone.twiml import script_text
from escalation.selectors import call_script
from escalation.sms.outbound import text_body
from incidents.authorizations import authorization_record
from incidents.models import Basis, Channel, EventKind, Incident
from incidents.selectors import authorization_text
from incidents.services import incident_take_fallback
from tenants.models import ResponseMode
from tests.factories import make_analyst, make_incident, make_tenant, propose

pytestmark = pytest.mark.django_db

# What a message says when it tells each basis; lower case.
MARKERS = {
    Basis.AUTHORIZE_MODE: ("authorize mode asks", "in authorize mode, mdr ops", "(authorize mode)"),
    Basis.NO_ACK_FALLBACK: ("nobody acknowledged", "nobody answered", "we phoned"),
    Basis.WRITTEN_AUTHORIZATION: ("authorized in writing", "your written authorization"),
}


def _authorize_mode() -> Incident:
    incident = make_incident(make_tenant(mode=ResponseMode.AUTHORIZE))
    propose(incident, "isolate_endpoint")
    return incident


def _fallback() -> Incident:
    incident = make_incident(make_tenant(fallback=True))
    propose(incident, "isolate_endpoint")
    contacts = list(incident.tenant.contacts.order_by("call_order"))
    attempts = [
        {"call": n, "contact": c.name, "contact_id": c.pk, "try": 1, "outcome": CallOutcome.NO_ANSWER}
        for n, c in enumerate(contacts, 1)
    ]
    incident_take_fallback(incident=incident, attempts=attempts)
    return incident


def _written() -> Incident:
    incident = make_incident(make_tenant())
    isolate = propose(incident, "isolate_endpoint")
    authorization_record(
        incident=incident,
        actions=[isolate],
        decision="granted",
        channel=Channel.ANALYST_RECORDED,
        text_shown=authorization_text(incident, [isolate]),
        contact=incident.tenant.contacts.order_by("call_order").first(),
        recorded_by=make_analyst(),
        evidence="From: CISO\nYes, isolate WS-0142 now.",
    )
    return incident


SCENARIOS: dict[Basis, Callable[[], Incident]] = {
    Basis.AUTHORIZE_MODE: _authorize_mode,
    Basis.NO_ACK_FALLBACK: _fallback,
    Basis.WRITTEN_AUTHORIZATION: _written,
}


def _report(incident: Incident) -> NotificationRun:
    with transaction.atomic():
        run = NotificationRun.objects.create(incident=incident, purpose=RunPurpose.REPORT)
        emails_claim(run)
    return run


def _email(incident: Incident, run: NotificationRun) -> str:
    mail.outbox.clear()
    email = run.emails.order_by("pk").first()
    email_send(email.pk)
    (message,) = mail.outbox
    return "\n".join([message.subject, message.body, message.alternatives[0][0]])


def _text(incident: Incident, run: NotificationRun) -> str:
    contact = incident.tenant.contacts.order_by("call_order").first()
    body = text_body(contact=contact, incident=incident, purpose=RunPurpose.REPORT)
    return body("4821") if callable(body) else body  # a text that asks for a reply carries its code


def _call(incident: Incident, run: NotificationRun) -> str:
    contact = incident.tenant.contacts.order_by("call_order").first()
    call = CallAttempt.objects.create(
        run=run, contact=contact, try_number=1, sequence=1, severity_rank=0, to=str(contact.phone)
    )
    return script_text(call_script(call.pk))


MESSAGES: dict[str, Callable[[Incident, NotificationRun], str]] = {
    "report email": _email,
    "report text": _text,
    "report call": _call,
}


@pytest.fixture(autouse=True)
def locmem_mail(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.mark.parametrize("kind", list(MESSAGES))
@pytest.mark.parametrize("basis", list(SCENARIOS), ids=str)
def test_a_report_tells_the_basis_its_actions_rest_on_and_no_other(basis: Basis, kind: str) -> None:
    incident = SCENARIOS[basis]()
    assert set(incident.actions.values_list("basis", flat=True)) == {basis}
    words = MESSAGES[kind](incident, _report(incident)).lower()

    assert any(marker in words for marker in MARKERS[basis]), words
    for other, markers in MARKERS.items():
        if other != basis:
            assert not any(marker in words for marker in markers), (other, words)
    # A fallback is told only when the timeline holds it, with the calls it lists.
    fallback = incident.events.filter(kind=EventKind.FALLBACK_TAKEN).first()
    assert (fallback is not None) == (basis is Basis.NO_ACK_FALLBACK)
    if fallback is not None:
        phoned = {a["contact"] for a in fallback.data["attempts"]}
        assert f"{len(phoned)} " in words
        if kind == "report email":
            assert all(name.lower() in words for name in phoned)
