"""A round of notification scheduled for later (nobody acknowledged, RENOTIFY_DELAY_MINUTES on) makes its plan
when it comes due: the contacts available then, not those of the moment it was scheduled (DESIGN rule 6:
the fallback rests on every contact available at the time)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from escalation.models import NotificationRun, RunPurpose, RunState
from escalation.runs.services import notification_start
from incidents.models import ActionStatus, Basis, EventKind, Incident
from incidents.services import incident_reapply_policy
from tenants.availability import Away
from tenants.availability_services import contact_availability_set
from tenants.models import Contact
from tenants.services import tenant_update_settings
from tests.escalation_driver import advance, nobody_answers
from tests.factories import make_analyst, make_incident, make_tenant, propose

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("unpaced_calls")]


@pytest.fixture(autouse=True)
def later_rounds(settings) -> None:
    settings.RENOTIFY_DELAY_MINUTES = 15
    settings.RENOTIFY_ROUNDS = 1


def set_away(contact: Contact, away: bool) -> None:
    now = timezone.now()
    periods = [Away(starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=6))] if away else []
    contact_availability_set(contact=contact, by=None, windows=[], away=periods)


def round_two(incident: Incident) -> NotificationRun:
    return incident.notification_runs.get(purpose=RunPurpose.NOTIFY, round=2)


def test_a_later_round_phones_who_is_available_when_it_comes_due_not_when_it_was_scheduled() -> None:
    tenant = make_tenant(phones=2)
    first, second = tenant.contacts.order_by("call_order")
    set_away(second, True)
    incident = make_incident(tenant)
    nobody_answers(notification_start(incident=incident, by=None))
    later = round_two(incident)
    assert later.plan is None and later.state == RunState.ACTIVE  # no plan while it waits

    # While it waits, the second contact comes back from holiday and the first goes away.
    set_away(second, False)
    set_away(first, True)
    later = advance(later)

    assert later.plan == [{"contact": second.pk, "try": 1}]
    assert [u["contact"] for u in later.unavailable] == [first.pk]
    assert list(later.calls.values_list("contact", flat=True)) == [second.pk]
    started = incident.events.get(
        kind=EventKind.NOTIFICATION_STARTED, data__run=later.pk, data__plan__isnull=False
    )
    assert started.summary == "Notification started by itself (round 2): emails, then 1 calls in call order."
    assert later.emails.exists()


def test_a_later_rounds_fallback_rests_on_every_contact_available_when_it_came_due() -> None:
    tenant = make_tenant(phones=2)  # the checkbox not ticked yet
    first, second = tenant.contacts.order_by("call_order")
    set_away(second, True)
    incident = make_incident(tenant)
    isolate = propose(incident, "isolate_endpoint")
    nobody_answers(notification_start(incident=incident, by=None))
    incident.refresh_from_db()
    assert incident.fallback_taken_at is None and incident.needs_attention

    # The customer ticks the checkbox, an analyst applies it to the incident, the second contact is back.
    tenant_update_settings(tenant=tenant, by=None, authorize_on_no_ack=True)
    incident_reapply_policy(incident=Incident.objects.get(pk=incident.pk), by=make_analyst())
    set_away(second, False)
    nobody_answers(round_two(incident))

    incident.refresh_from_db()
    assert incident.fallback_taken_at is not None
    proof = incident.events.get(kind=EventKind.FALLBACK_TAKEN).data["attempts"]
    assert [p["contact_id"] for p in proof] == [first.pk, second.pk]
    isolate.refresh_from_db()
    assert (isolate.status, isolate.basis) == (ActionStatus.QUEUED, Basis.NO_ACK_FALLBACK)


def test_nobody_available_flags_the_incident_once() -> None:
    tenant = make_tenant(fallback=True, phones=1)
    set_away(tenant.contacts.get(), True)
    incident = make_incident(tenant)
    run = advance(notification_start(incident=incident, by=None))

    assert run.state == RunState.EXHAUSTED and run.plan == []
    flags = incident.events.filter(kind=EventKind.FLAGGED)
    assert [f.summary.split(":")[0] for f in flags] == ["Nobody available"]
    assert Incident.objects.get(pk=incident.pk).fallback_taken_at is None


def test_a_person_starting_notification_while_the_next_round_waits_starts_that_round_now() -> None:
    tenant = make_tenant(phones=1)
    incident = make_incident(tenant)
    nobody_answers(notification_start(incident=incident, by=None))
    later = round_two(incident)
    # Started by itself (a new action needing the customer) while the round waits: it keeps its time.
    assert notification_start(incident=incident, by=None).pk == later.pk
    later.refresh_from_db()
    assert later.plan is None and later.next_step_at > timezone.now() + timedelta(minutes=14)

    analyst = make_analyst()
    started = notification_start(incident=incident, by=analyst)

    assert started.pk == later.pk
    later.refresh_from_db()
    assert later.plan == [{"contact": tenant.contacts.get().pk, "try": 1}]
    assert later.next_step_at <= timezone.now() and later.started_by == analyst
    assert later.calls.count() == 1  # its first call queued at once, as a first round's
    event = incident.events.get(
        kind=EventKind.NOTIFICATION_STARTED, data__run=later.pk, data__plan__isnull=False
    )
    assert (event.actor, event.summary) == (
        analyst,
        "Notification started (round 2): emails, then 1 calls in call order.",
    )
    assert notification_start(incident=incident, by=analyst).pk == later.pk  # now under way: no change
    assert later.calls.count() == 1
