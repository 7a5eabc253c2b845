"""The demo data covers every policy combination and can be loaded twice."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from incidents.models import Incident, ResponseAction
from tenants.models import Contact, Membership, Tenant

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> tuple[int, ...]:
    models = (Tenant, Contact, Membership, Incident, ResponseAction, get_user_model())
    return tuple(m.objects.count() for m in models)


def test_seed_demo_covers_each_combination_and_is_idempotent() -> None:
    output = seed()
    first = counts()
    seed()
    assert counts() == first
    combos = set(Tenant.objects.values_list("tier", "response_mode", "authorize_on_no_ack"))
    assert combos == {
        (tier, mode, checkbox)
        for tier in ("essentials", "complete")
        for mode, checkbox in (("collaborate", False), ("collaborate", True), ("authorize", False))
    }
    assert set(Membership.objects.values_list("role", flat=True)) == {"admin", "approver", "viewer"}
    for username in ("analyst", "lead", "northwind", "delta-health-approver"):
        assert username in output
    analyst = get_user_model().objects.get(username="analyst")
    assert analyst.is_staff and analyst.has_perm("incidents.add_authorization")
    assert not Contact.objects.filter(tenant__authorize_on_no_ack=True, phone="").exists()
