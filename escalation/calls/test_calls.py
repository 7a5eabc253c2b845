"""Test calls: a customer admin phones one contact to check that its number works."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from escalation.calls.records import call_deadline, call_end
from escalation.models import OPEN_CALL_OUTCOMES, CallAttempt, CallOutcome
from escalation.nudges import nudge_dispatch
from incidents.models import SEVERITY_RANK
from mdrportal.core.users import User
from tenants.models import Contact, Tenant
from tenants.services import settings_audit

# A test call is dialed after every incident's call, informational ones included.
TEST_CALL_RANK = len(SEVERITY_RANK)


@transaction.atomic
def test_call_place(*, contact: Contact, by: User) -> CallAttempt:
    """Phone one contact to check that its number works: a call without a run, about no incident.

    Queued after every incident's call; one at a time per contact, and at most TEST_CALLS_PER_TENANT_PER_DAY
    per tenant in any 24 hours (each costs money, to a number a customer admin typed). It acknowledges
    nothing.
    """
    locked = (
        Contact.objects.select_for_update(of=("self",), no_key=True)
        .select_related("tenant")
        .get(pk=contact.pk)
    )
    if locked.tenant is None:
        raise ValidationError("Only a customer's contacts get test calls.", code="no_tenant")
    _test_call_check_tenant_quota(locked.tenant)
    if not locked.active:
        raise ValidationError(f"{locked.name} is inactive: reactivate the contact first.", code="inactive")
    if not locked.phone:
        raise ValidationError(f"{locked.name} has no phone number to call.", code="no_phone")
    in_flight = CallAttempt.objects.filter(
        contact=locked, run__isnull=True, outcome__in=OPEN_CALL_OUTCOMES
    ).exists()
    if in_flight:
        raise ValidationError(
            f"A test call to {locked.name} is already under way: wait until it ends.", code="in_flight"
        )
    call = CallAttempt.objects.create(
        run=None,
        tested_by=by,
        contact=locked,
        try_number=1,
        sequence=1,
        severity_rank=TEST_CALL_RANK,
        to=locked.phone.as_e164,
    )
    settings_audit(
        tenant=locked.tenant,
        by=by,
        field="test_call",
        subject=locked.name,
        before=None,
        after={"to": call.to},
    )
    nudge_dispatch()
    return call


def _test_call_check_tenant_quota(tenant: Tenant) -> None:
    # The tenant's row lock makes concurrent test calls of its contacts count one after the other.
    Tenant.objects.select_for_update(no_key=True).only("pk").get(pk=tenant.pk)
    quota = settings.TEST_CALLS_PER_TENANT_PER_DAY
    since = timezone.now() - timedelta(days=1)
    placed = CallAttempt.objects.filter(run__isnull=True, contact__tenant=tenant, queued_at__gt=since)
    if placed.count() >= quota:
        raise ValidationError(
            f"{tenant.name} has had its {quota} test calls of the last 24 hours: try again later.",
            code="quota",
        )


@transaction.atomic
def test_calls_end_stale(*, batch: int = 200) -> int:
    """End the test calls still dialing past their deadline: no answer if placed, failed if never placed."""
    now, ended = timezone.now(), 0
    dialing = (
        CallAttempt.objects.select_for_update(of=("self",), no_key=True, skip_locked=True)
        .filter(run__isnull=True, outcome=CallOutcome.DIALING)
        .select_related("contact__tenant")
        .order_by("placed_at", "id")[:batch]
    )
    for call in dialing:
        if call_deadline(call, call.tested_tenant.ring_timeout_seconds) <= now:
            call_end(call, CallOutcome.NO_ANSWER if call.provider_sid else CallOutcome.FAILED)
            ended += 1
    return ended


# Services named after the entity start with "test_": not tests, whatever pytest makes of a module that imports them.
test_call_place.__test__ = False  # type: ignore[attr-defined]  # pytest's flag, set on the function
test_calls_end_stale.__test__ = False  # type: ignore[attr-defined]  # pytest's flag, set on the function
