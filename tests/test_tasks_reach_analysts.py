"""Tasks and declines reach analysts: a task marked not done and a written decline flag the incident with the
reason; the admin counts a task not done among those nobody has done; an analyst may have MDR Ops do it, a
decision recorded with who and why and routed by the gate."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from incidents.admin_customer_tasks import open_task_counts
from incidents.customer_tasks import task_mark, task_take_over
from incidents.models import ActionStatus, Authorization, Basis, EventKind, Incident, ResponseAction
from tenants.models import Performer, Role, Tier
from tests.factories import (
    login_verified,
    make_analyst,
    make_incident,
    make_member,
    make_tasks,
    make_tenant,
    portal_decision,
    propose,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


@pytest.fixture
def tasks() -> dict[str, Any]:
    return make_tasks("msp-analysts")


def flags(incident: Incident) -> list[str]:
    return list(incident.events.filter(kind=EventKind.FLAGGED).values_list("summary", flat=True))


def test_a_task_marked_not_done_flags_the_incident_with_the_reason_and_stays_counted(
    tasks: dict[str, Any],
) -> None:
    incident, partner = tasks["incident"], tasks["partner"]
    task_mark(task=partner, by=tasks["technician"], done=False, note="Firewall change window is Sunday.")

    incident.refresh_from_db()
    assert incident.needs_attention
    (flag,) = flags(incident)
    assert str(partner) in flag and "Firewall change window is Sunday." in flag
    counted = open_task_counts(Incident.objects.filter(pk=incident.pk)).get()
    assert counted.open_tasks == 2  # the customer's open task and the partner's task not done


def test_a_written_decline_flags_the_incident() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    isolate = propose(incident, "isolate_endpoint")
    portal_decision(incident, [isolate], make_member(tenant, Role.APPROVER), Authorization.Decision.DECLINED)

    incident.refresh_from_db()
    assert incident.needs_attention
    (flag,) = flags(incident)
    assert "declined in writing" in flag and str(isolate) in flag


def test_mdr_ops_takes_over_a_task_not_done_through_the_gate_with_who_and_why(tasks: dict[str, Any]) -> None:
    incident, partner = tasks["incident"], tasks["partner"]
    task_mark(task=partner, by=tasks["technician"], done=False, note="No one on site.")
    analyst = make_analyst()

    task_take_over(task=partner, by=analyst, reason="Partner cannot reach the firewall this week.")

    partner.refresh_from_db()
    # Collaborate mode: MDR Ops performs it only with the customer's written authorization.
    assert (partner.status, partner.performer) == (ActionStatus.AWAITING_AUTHORIZATION, Performer.MDR)
    assert partner.taken_over_at is not None
    event = incident.events.filter(kind=EventKind.ACTION_DECIDED).order_by("-id").first()
    assert event.actor == analyst
    assert "MDR Ops takes it over from the partner" in event.summary
    assert "Partner cannot reach the firewall this week." in event.summary
    portal_decision(incident, [partner], tasks["approver"])
    partner.refresh_from_db()
    assert (partner.status, partner.basis) == (ActionStatus.QUEUED, Basis.WRITTEN_AUTHORIZATION)


def test_the_tier_still_decides_what_mdr_ops_may_take_over() -> None:
    tenant = make_tenant(tier=Tier.ESSENTIALS, performers={"clean_malware": Performer.CUSTOMER})
    clean = propose(make_incident(tenant), "clean_malware")
    with pytest.raises(ValidationError, match="does not include neutralization"):
        task_take_over(task=clean, by=make_analyst(), reason="They asked us to.")
    clean.refresh_from_db()
    assert (clean.status, clean.performer, clean.taken_over_at) == (
        ActionStatus.RECOMMENDED,
        Performer.CUSTOMER,
        None,
    )


def test_the_admin_offers_mdr_ops_will_do_it_to_analysts_only(tasks: dict[str, Any]) -> None:
    customer: ResponseAction = tasks["customer"]
    url = reverse("admin:incidents_customertask_take_over", args=[customer.pk])
    outsider = Client()
    login_verified(outsider, make_member(tasks["tenant"], Role.ADMIN))
    assert "/login/" in outsider.post(url, {"reason": "x"})["Location"]

    analyst = Client()
    login_verified(analyst, make_analyst())
    assert analyst.post(url, {"reason": ""}).status_code == 200  # a form error, nothing changed
    assert analyst.post(url, {"reason": "The customer asked us by phone."}).status_code == 302
    customer.refresh_from_db()
    assert (customer.status, customer.performer) == (ActionStatus.AWAITING_AUTHORIZATION, Performer.MDR)


def test_the_incident_page_has_a_mdr_ops_will_do_it_button_on_each_task_nobody_has_done(
    tasks: dict[str, Any],
) -> None:
    customer: ResponseAction = tasks["customer"]
    take_over = reverse("admin:incidents_customertask_take_over", args=[customer.pk])
    analyst = Client()
    login_verified(analyst, make_analyst())
    page = reverse("admin:incidents_incident_change", args=[customer.incident_id])

    assert f'href="{take_over}"' in analyst.get(page).content.decode()
    assert analyst.post(take_over, {"reason": "The customer asked us by phone."}).status_code == 302
    assert f'href="{take_over}"' not in analyst.get(page).content.decode()  # MDR Ops performs it now
