"""Retried transactions (mdrportal.core.retry): only a transaction's outermost block, only on a deadlock or a
serialization failure. The retry of a real deadlock is in tests/test_concurrent_writers.py (PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import OperationalError, transaction

from incidents.actions import action_propose_revert
from incidents.connectors.base import Result
from incidents.execution import action_claim, action_record_result
from incidents.models import ActionStatus, Incident
from incidents.services import incident_clear_attention
from mdrportal.core.retry import NestedRetry, retried_atomic
from tenants.models import ResponseMode
from tests.factories import make_incident, make_tenant, propose

pytestmark = pytest.mark.django_db


def test_a_retried_service_refuses_to_run_inside_a_plain_transaction(analyst: object) -> None:
    incident = make_incident(make_tenant())
    Incident.objects.filter(pk=incident.pk).update(needs_attention=True)
    with pytest.raises(NestedRetry, match="incident_clear_attention"), transaction.atomic():
        incident_clear_attention(incident=incident, by=analyst)
    assert Incident.objects.get(pk=incident.pk).needs_attention


def test_a_retried_service_joins_an_outer_retried_transaction(analyst: object) -> None:
    # The revert proposes its action (retried itself) inside its own retried transaction.
    action = propose(make_incident(make_tenant(mode=ResponseMode.AUTHORIZE)), "isolate_endpoint")
    claim = action_claim(action.pk)
    assert claim is not None
    action_record_result(claim.attempt_id, Result.ok("Isolated."))
    action.refresh_from_db()
    revert = action_propose_revert(action=action, by=analyst)
    assert revert.reverts_id == action.pk and revert.status == ActionStatus.QUEUED


def test_other_database_errors_are_not_retried() -> None:
    tries = []

    @retried_atomic
    def fails() -> None:
        tries.append(1)
        raise OperationalError("disk full")

    with pytest.raises(OperationalError, match="disk full"):
        fails()
    assert tries == [1]
