"""Reply codes: among the open alerts texted to one number, each code names one alert (incident and contact),
over any sequence of alerts, replies, acknowledgments and closes; a reply acknowledges exactly the alert its
code names, and a bare 1 only the number's one open alert."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given, settings, strategies as st

from escalation.acknowledgments.services import acknowledgment_record
from escalation.models import Acknowledgment, TextKind, TextMessage
from escalation.runs.lifecycle import incident_change_status
from escalation.sms import codes
from escalation.sms.codes import held_codes, open_alerts
from escalation.sms.inbound import InboundText, sms_received
from escalation.sms.outbound import text_body
from escalation.sms.send import text_claim, text_send
from incidents.models import Channel, Incident, IncidentStatus
from mdrportal.core.outbox import OutboxState
from mdrportal.core.retry import retried_atomic
from tenants.models import Contact
from tenants.services import contact_update
from tests.factories import make_analyst, make_incident, make_tenant

pytestmark = pytest.mark.django_db

CUSTOMERS = 3  # each has the same engineer as its one contact, under one number
SLOTS = 2  # incidents per customer


def alert(contact: Contact, incident: Incident) -> TextMessage:
    """Text the contact about the incident as a notification run does, and send it."""
    text = text_claim(
        contact=contact,
        incident=incident,
        kind=TextKind.NOTIFY,
        body=text_body(contact=contact, incident=incident),
    )
    assert text_send(text.pk) == OutboxState.SENT
    text.refresh_from_db()
    return text


def replied(number: str, body: str) -> str:
    return sms_received(InboundText(sender=number, body=body, sid="SMcodes"))


@dataclass
class World:
    """What the test expects: the alerts it texted, which incidents are closed, which acknowledged."""

    contacts: list[Contact]
    incidents: dict[tuple[int, int], Incident] = field(default_factory=dict)
    codes: dict[tuple[int, int], str] = field(default_factory=dict)
    closed: set[tuple[int, int]] = field(default_factory=set)
    acked: set[tuple[int, int]] = field(default_factory=set)

    def open(self) -> set[tuple[int, int]]:
        return set(self.codes) - self.closed - self.acked


operations = st.lists(
    st.one_of(
        st.tuples(st.just("alert"), st.integers(0, CUSTOMERS - 1), st.integers(0, SLOTS - 1)),
        st.tuples(st.just("code"), st.integers(0, CUSTOMERS - 1), st.integers(0, SLOTS - 1)),
        st.tuples(st.just("bare"), st.just(0), st.just(0)),
        st.tuples(st.just("guess"), st.integers(1000, 1019), st.just(0)),
        st.tuples(st.just("portal"), st.integers(0, CUSTOMERS - 1), st.integers(0, SLOTS - 1)),
        st.tuples(st.just("close"), st.integers(0, CUSTOMERS - 1), st.integers(0, SLOTS - 1)),
    ),
    max_size=18,
)


def test_codes_stay_unique_per_number_among_open_alerts_and_replies_acknowledge_what_they_name(
    monkeypatch,
) -> None:
    # Twenty codes for up to six open alerts: choices collide often, so the exclusion is what keeps them apart.
    monkeypatch.setattr(codes, "FIRST_CODE", 1000)
    monkeypatch.setattr(codes, "LAST_CODE", 1019)
    contacts = []
    for _ in range(CUSTOMERS):
        contact = make_tenant(phones=1).contacts.get()
        contacts.append(contact_update(contact=contact, by=None, channels=["voice", "sms", "email"]))
    number = contacts[0].phone.as_e164
    assert {c.phone.as_e164 for c in contacts} == {number}
    analyst = make_analyst()

    @given(operations)
    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    def sequence(ops: list[tuple[str, int, int]]) -> None:
        # One retried transaction, rolled back after each example: the services it calls join it.
        @retried_atomic
        def rolled_back() -> None:
            play(World(contacts=contacts), ops, number=number, analyst=analyst)
            transaction.set_rollback(True)

        rolled_back()

    sequence()


def play(world: World, ops: list[tuple[str, int, int]], *, number: str, analyst: object) -> None:
    for op, a, b in ops:
        key = (a, b)
        before = set(Acknowledgment.objects.values_list("incident_id", "contact_id"))
        if op == "alert" and key not in world.closed:
            incident = world.incidents.get(key) or make_incident(world.contacts[a].tenant)
            world.incidents[key] = incident
            text = alert(world.contacts[a], incident)
            if key in world.codes and key not in world.acked:
                assert text.reply_code == world.codes[key], "a later text of an open alert changed its code"
            world.codes[key] = text.reply_code
        elif op == "code" and key in world.codes:
            # The code of an alert that may have closed since: it names what holds it now, if anything.
            code = world.codes[key]
            owner = [k for k in world.open() if world.codes[k] == code]
            answer = replied(number, f"1 {code}")
            world.acked |= set(owner)
            if owner:
                assert f"incident #{world.incidents[owner[0]].pk} for" in answer
            else:
                assert answer.startswith(("Nothing was changed", "No open MDR Ops alert"))
        elif op == "bare":
            still_open = world.open()
            answer = replied(number, "1")
            if len(still_open) == 1:
                world.acked |= still_open
            else:
                assert "Acknowledged" not in answer
        elif op == "guess":
            code = str(a)
            owner = [k for k in world.open() if world.codes[k] == code]
            replied(number, f"ACK {code}")
            world.acked |= set(owner)
        elif op == "portal" and key in world.incidents and key not in world.closed:
            acknowledgment_record(
                incident=world.incidents[key], channel=Channel.PORTAL, contact=world.contacts[a]
            )
            world.acked.add(key)
        elif op == "close" and key in world.incidents:
            incident_change_status(incident=world.incidents[key], status=IncidentStatus.CLOSED, by=analyst)
            world.closed.add(key)
        check(world, number, before)


def check(world: World, number: str, before: set[tuple[int, int]]) -> None:
    alerts = open_alerts(number)
    # Each open alert is listed once, under the code it was texted with, and no two share a code.
    assert {(t.incident_id, t.contact_id) for t in alerts} == {
        (world.incidents[k].pk, world.contacts[k[0]].pk) for k in world.open()
    }
    assert sorted(t.reply_code for t in alerts) == sorted(world.codes[k] for k in world.open())
    assert len({t.reply_code for t in alerts}) == len(alerts)
    held = list(held_codes(number).values_list("reply_code", flat=True))
    assert len(held) == len(set(held))
    # Replies acknowledged exactly the alerts the world expects, each as the contact it was texted to.
    acks = set(Acknowledgment.objects.values_list("incident_id", "contact_id"))
    expected = {(world.incidents[k].pk, world.contacts[k[0]].pk) for k in world.acked}
    assert acks - before <= expected and expected <= acks


def test_a_code_taken_by_another_text_at_the_same_moment_is_chosen_again(monkeypatch) -> None:
    """Two texts to one number claimed at once cannot both hold a code: the database refuses the second,
    and the claim chooses another within its own transaction."""
    first, second = (make_tenant(phones=1).contacts.get() for _ in range(2))
    for contact in (first, second):
        contact_update(contact=contact, by=None, channels=["sms"])
    taken = alert(first, make_incident(first.tenant))
    # The choice cannot see the other claim's row (it has not committed): it picks that code first.
    picks = iter([taken.reply_code, "4242"])
    monkeypatch.setattr(codes, "_free_code", lambda held: next(picks))

    text = alert(second, make_incident(second.tenant))

    assert text.reply_code == "4242" and "Reply 1 4242 to acknowledge" in text.body
    assert sorted(held_codes(text.to).values_list("reply_code", flat=True)) == sorted(
        [taken.reply_code, "4242"]
    )


def test_the_database_refuses_two_texts_holding_one_code_for_a_number() -> None:
    contact = make_tenant(phones=1).contacts.get()
    contact_update(contact=contact, by=None, channels=["sms"])
    held = alert(contact, make_incident(contact.tenant))

    with pytest.raises(IntegrityError), transaction.atomic():
        TextMessage.objects.create(
            incident=held.incident,
            contact=contact,
            to=held.to,
            kind=TextKind.NOTIFY,
            body="x",
            reply_code=held.reply_code,
        )


def test_a_late_reply_to_a_closed_alert_is_told_so_and_names_no_newer_alert(monkeypatch) -> None:
    first, second = (make_tenant(phones=1).contacts.get() for _ in range(2))
    for contact in (first, second):
        contact_update(contact=contact, by=None, channels=["sms"])
    # Each choice draws the first code first: the second alert would get the closed one's code again.
    draws = iter([0, 0, 1])
    monkeypatch.setattr(codes, "randbelow", lambda n: next(draws))
    closed = alert(first, make_incident(first.tenant))
    incident_change_status(incident=closed.incident, status=IncidentStatus.CLOSED, by=make_analyst())

    newer = alert(second, make_incident(second.tenant))
    answer = replied(newer.to, f"1 {closed.reply_code}")

    assert newer.reply_code != closed.reply_code
    assert f"Nothing was changed: incident #{closed.incident_id} for {first.tenant.name}" in answer
    assert "is closed" in answer
    assert not Acknowledgment.objects.exists()
