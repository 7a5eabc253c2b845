"""A run reads the policy snapshotted when its incident opened (DESIGN rule 9): its customer's clock too."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from escalation.models import RunPurpose
from escalation.runs.availability import plan_make
from incidents.models import Severity
from incidents.policy import PolicySnapshot
from tenants.availability import Window
from tenants.availability_services import contact_availability_set
from tenants.services import tenant_update_settings
from tests.factories import make_incident, make_tenant

pytestmark = pytest.mark.django_db

NOON_UTC = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def test_a_time_zone_changed_after_opening_leaves_the_runs_plan_on_the_snapshots_clock() -> None:
    tenant = make_tenant(phones=2)
    tenant_update_settings(tenant=tenant, by=None, timezone="Europe/London")
    early, late = tenant.contacts.order_by("call_order")
    # The first contact answers from 11:00 to 13:00 on the customer's clock, every day.
    contact_availability_set(
        contact=early,
        by=None,
        windows=[Window(weekday=d, starts=time(11), ends=time(13)) for d in range(7)],
        away=[],
    )
    incident = make_incident(tenant)
    assert PolicySnapshot.read(incident).timezone == "Europe/London"

    # Noon in London in March is noon UTC; in Kiritimati (UTC+14) it is 02:00, outside the window.
    tenant_update_settings(tenant=tenant, by=None, timezone="Pacific/Kiritimati")
    incident.tenant.refresh_from_db()
    assert incident.tenant.timezone == "Pacific/Kiritimati"

    plan = plan_make(incident, purpose=RunPurpose.NOTIFY, at=NOON_UTC)
    assert [step["contact"] for step in plan.steps] == [early.pk, late.pk]
    assert plan.unavailable == []

    # A later incident takes the new clock: the first contact is out of its window then.
    later = make_incident(tenant)
    plan = plan_make(later, purpose=RunPurpose.NOTIFY, at=NOON_UTC)
    assert [step["contact"] for step in plan.steps] == [late.pk]
    assert [u["contact"] for u in plan.unavailable] == [early.pk]


def test_a_snapshot_without_a_readable_zone_reads_utc() -> None:
    incident = make_incident(make_tenant())
    incident.policy = {**incident.policy, "timezone": "Mars/Olympus"}
    assert PolicySnapshot.read(incident).timezone == "UTC"
    incident.policy = {k: v for k, v in incident.policy.items() if k != "timezone"}
    assert PolicySnapshot.read(incident).timezone == "UTC"


@pytest.mark.parametrize("damaged", [["high"], {"severity": "high"}, 3, "severe"])
def test_a_snapshot_with_an_unreadable_notifying_severity_notifies_from_every_severity(
    damaged: object,
) -> None:
    incident = make_incident(make_tenant())
    incident.policy = {**incident.policy, "notify_from_severity": damaged}
    assert PolicySnapshot.read(incident).notify_from_severity == Severity.INFO
