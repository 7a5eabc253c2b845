"""The platform's answer outlives a database that goes away for a moment after the call: it is recorded once
the database is back, so the sweeper never asks the platform a second time (PostgreSQL ends the worker's
connection here, as a restart does)."""

from __future__ import annotations

import psycopg
import pytest
from django.db import OperationalError, connection

from incidents.connectors.base import Result
from incidents.execution import action_claim, action_record_result, action_record_result_patiently
from incidents.models import ActionAttempt, ActionStatus
from tenants.models import ResponseMode
from tests.factories import make_incident, make_tenant, propose

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _cut_this_connection() -> None:
    """End this process's database connection from another one, as a database restart does."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    params = connection.settings_dict
    with psycopg.connect(
        dbname=params["NAME"], user=params["USER"], host=params["HOST"], port=params["PORT"] or 5432
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def _running_action() -> tuple[int, int]:
    action = propose(make_incident(make_tenant(mode=ResponseMode.AUTHORIZE)), "isolate_endpoint")
    claim = action_claim(action.pk)
    assert claim is not None
    return action.pk, claim.attempt_id


def test_an_answer_that_meets_a_lost_connection_is_recorded_once_the_database_answers() -> None:
    action_id, attempt_id = _running_action()
    _cut_this_connection()
    action_record_result_patiently(attempt_id, Result.ok("Isolated."))
    attempt = ActionAttempt.objects.get(pk=attempt_id)
    assert attempt.outcome == "succeeded"
    assert attempt.action.status == ActionStatus.SUCCEEDED
    assert ActionAttempt.objects.filter(action_id=action_id).count() == 1  # the platform was asked once


def test_recording_once_loses_the_answer_to_a_lost_connection() -> None:
    """What the patient record is for: a single try fails, and the attempt stays running for the sweeper."""
    _action_id, attempt_id = _running_action()
    _cut_this_connection()
    with pytest.raises(OperationalError):
        action_record_result(attempt_id, Result.ok("Isolated."))
    connection.close()
    assert ActionAttempt.objects.get(pk=attempt_id).outcome == ""
