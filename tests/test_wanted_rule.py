"""One home for "someone has it" and "a call is still wanted" (escalation.wanted): the Python that the
fallback, the run's steps and the dispatcher read, and the SQL that the claims of queued calls read, give the
same answer over generated states (incident status, acknowledgments, written decisions, runs and their
purposes and states)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings, strategies as st

from escalation.models import Acknowledgment, NotificationRun, RunPurpose, RunState
from escalation.wanted import call_still_wanted, call_still_wanted_sql, someone_has_it, someone_has_it_sql
from incidents.models import Authorization, Channel, Incident, IncidentStatus
from mdrportal.core.retry import retried_atomic
from tests.factories import make_incident, make_tenant, make_user, propose

pytestmark = pytest.mark.django_db

runs = st.lists(
    st.tuples(st.sampled_from(list(RunPurpose)), st.sampled_from(list(RunState))), min_size=1, max_size=4
)
states = st.fixed_dictionaries(
    {
        "status": st.sampled_from(list(IncidentStatus)),
        "acknowledgments": st.sampled_from([0, 1, 2]),
        "decisions": st.lists(st.sampled_from(list(Authorization.Decision)), max_size=2),
        "runs": runs,
        "other_incident_has_it": st.booleans(),
    }
)


def _sql_truth(condition: str, **columns: int) -> bool:
    selected = ", ".join(f"{value} AS {name}" for name, value in columns.items())
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT CASE WHEN {condition} THEN 1 ELSE 0 END FROM (SELECT {selected}) x")
        return cursor.fetchone()[0] == 1


def test_the_python_and_the_sql_of_each_rule_agree() -> None:
    tenant = make_tenant()
    incident, other = make_incident(tenant), make_incident(tenant)
    task = propose(incident, "block_ip", target="203.0.113.9")
    contact, user = tenant.contacts.first(), make_user()
    seen: set[tuple[bool, bool]] = set()

    @given(states)
    @settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    def agree(state: dict) -> None:
        # One retried transaction per example, rolled back after it.
        @retried_atomic
        def rolled_back() -> None:
            Incident.objects.filter(pk=incident.pk).update(status=state["status"])
            for _ in range(state["acknowledgments"]):
                Acknowledgment.objects.create(incident=incident, contact=contact, channel=Channel.PORTAL)
            for decision in state["decisions"]:
                Authorization.objects.create(
                    incident=incident,
                    decision=decision,
                    scope=[],
                    user=user,
                    channel=Channel.PORTAL,
                    text_shown="-",
                )
            if state["other_incident_has_it"]:  # another incident's acknowledgment is not this one's
                Acknowledgment.objects.create(incident=other, contact=contact, channel=Channel.PORTAL)
            fresh = Incident.objects.get(pk=incident.pk)
            has_it = someone_has_it(fresh)
            assert has_it == _sql_truth(someone_has_it_sql("x.incident_id"), incident_id=fresh.pk)
            assert has_it == bool(state["acknowledgments"] or state["decisions"])
            for number, (purpose, run_state) in enumerate(state["runs"], start=1):
                run = NotificationRun.objects.create(
                    incident=fresh,
                    purpose=purpose,
                    round=number,
                    state=run_state,
                    task=task if purpose == RunPurpose.PARTNER_TASK else None,
                )
                wanted = call_still_wanted(run, fresh)
                assert wanted == _sql_truth(call_still_wanted_sql("x"), run_id=run.pk), (purpose, run_state)
                seen.add((has_it, wanted))
                if purpose == RunPurpose.PARTNER_TASK:
                    NotificationRun.objects.filter(pk=run.pk).delete()  # one partner run per task
            transaction.set_rollback(True)

        rolled_back()

    agree()
    # The generated states reached both answers of each rule.
    assert {has_it for has_it, _ in seen} == {True, False}
    assert {wanted for _, wanted in seen} == {True, False}
