"""Two writers of one incident at once, on PostgreSQL: neither dies of a deadlock, nobody sees a 500.

Each test puts two real transactions where they used to deadlock, with a barrier, not luck: a third
transaction (tests.threads.Holding) holds a row the first writer needs midway, so the first stops there with
its own locks taken; the second writer starts and waits; then the barrier goes and both must finish. Before
the one lock order, the first held the action FOR UPDATE while the second held the incident FOR UPDATE, and
the deferred foreign-key checks at COMMIT (FOR KEY SHARE) closed the cycle: "deadlock detected".
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from escalation.models import NotificationRun
from incidents.connectors.base import Result
from incidents.execution import action_claim, action_record_result
from incidents.locks import incident_lock
from incidents.models import ActionAttempt, ActionStatus, ResponseAction
from mdrportal.core.retry import retried_atomic
from tenants.models import ResponseMode, Role
from tests.factories import as_user, make_analyst, make_incident, make_member, make_tenant, propose
from tests.threads import Holding, Running, wait_until, waiting_for_locks

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _api(user: Any) -> APIClient:
    client = as_user(user)
    client.raise_request_exception = False  # a server error is a 500 answer, as a person would get it
    return client


def _queued_action() -> ResponseAction:
    """An action that runs without asking (Authorize mode): the customer is told of it by the next run."""
    action = propose(make_incident(make_tenant(mode=ResponseMode.AUTHORIZE)), "isolate_endpoint")
    assert action.status == ActionStatus.QUEUED
    return action


def test_escalating_while_the_proposed_action_is_claimed_is_no_deadlock() -> None:
    action = _queued_action()
    client = _api(make_analyst())
    # The attempt's row, written and not committed elsewhere: the claim stops at its own insert of it.
    with Holding(lambda: ActionAttempt.objects.create(action=action, number=1, connector="simulated")):
        claim = Running(lambda: action_claim(action.pk))
        claim.start()
        wait_until(lambda: waiting_for_locks() >= 1, what="the claim waits midway")
        escalate = Running(lambda: client.post(f"/api/v1/incidents/{action.incident_id}/escalate/"))
        escalate.start()
        wait_until(lambda: waiting_for_locks() >= 2, what="the escalation waits too")
    assert claim.outcome() is not None
    response = escalate.outcome()
    assert response.status_code == 202, response.content
    action.refresh_from_db()
    assert action.status == ActionStatus.RUNNING and action.attempts.count() == 1
    assert NotificationRun.objects.get(incident=action.incident_id).actions.get() == action


def test_the_platforms_answer_is_recorded_while_escalation_holds_the_incident() -> None:
    action = _queued_action()
    claim = action_claim(action.pk)
    assert claim is not None
    client = _api(make_analyst())
    # The attempt's row locked elsewhere: recording the answer stops midway, the action's lock taken.
    with Holding(lambda: ActionAttempt.objects.select_for_update(no_key=True).get(pk=claim.attempt_id)):
        record = Running(lambda: action_record_result(claim.attempt_id, Result.ok("Isolated.")))
        record.start()
        wait_until(lambda: waiting_for_locks() >= 1, what="the record waits midway")
        escalate = Running(lambda: client.post(f"/api/v1/incidents/{action.incident_id}/escalate/"))
        escalate.start()
        wait_until(lambda: waiting_for_locks() >= 2, what="the escalation waits too")
    record.outcome()
    response = escalate.outcome()
    assert response.status_code == 202, response.content
    action.refresh_from_db()
    assert action.status == ActionStatus.SUCCEEDED  # recorded at once: nothing left for the sweeper
    assert ActionAttempt.objects.get(pk=claim.attempt_id).outcome == "succeeded"


def test_a_deadlocked_transaction_runs_again_whole_and_its_after_commit_work_happens_once() -> None:
    """Two transactions lock two incidents in opposite orders (no service does; this is the retry's own
    test): PostgreSQL gives one up, which runs again from its start; each one's on_commit work runs once."""
    first, second = make_incident(make_tenant()).pk, make_incident(make_tenant()).pk
    tries: dict[str, int] = {"a": 0, "b": 0}
    committed: list[str] = []
    both_hold_one = threading.Barrier(2, timeout=10)

    def crossing(name: str, one: int, other: int) -> None:
        @retried_atomic
        def locks_both() -> None:
            tries[name] += 1
            incident_lock(one)
            transaction.on_commit(lambda: committed.append(name))
            if tries[name] == 1:
                both_hold_one.wait()
            incident_lock(other)

        locks_both()

    a = Running(lambda: crossing("a", first, second))
    b = Running(lambda: crossing("b", second, first))
    a.start()
    b.start()
    a.outcome()
    b.outcome()
    assert sorted(committed) == ["a", "b"]
    assert sorted(tries.values()) == [1, 2]


def test_writers_of_one_incident_at_once_stress() -> None:
    """A short burst: four threads propose, claim and record, escalate, acknowledge, close and reopen the
    two incidents of two tenants at once, for ten seconds. No deadlock reaches anyone, no answer is a 5xx."""
    tenants = [make_tenant(mode=ResponseMode.AUTHORIZE) for _ in range(2)]
    incidents = [make_incident(t) for t in tenants]
    analyst = make_analyst()
    approvers = {i.pk: make_member(i.tenant, Role.APPROVER) for i in incidents}
    errors: list[str] = []
    done: list[str] = []
    stop_at = time.monotonic() + 10

    def work(seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - the order of the burst, not a secret
        staff = _api(analyst)
        customers = {pk: _api(user) for pk, user in approvers.items()}
        while time.monotonic() < stop_at:
            incident = rng.choice(incidents).pk
            step = rng.choice(
                ["propose", "propose", "run", "run", "escalate", "acknowledge", "close", "reopen"]
            )
            try:
                if step == "propose":
                    body = {"action_type": "isolate_endpoint", "target": f"WS-{rng.randint(1, 999)}"}
                    response = staff.post(f"/api/v1/incidents/{incident}/actions/", body, format="json")
                elif step == "escalate":
                    response = staff.post(f"/api/v1/incidents/{incident}/escalate/")
                elif step == "acknowledge":
                    response = customers[incident].post(f"/api/v1/incidents/{incident}/acknowledge/")
                elif step in ("close", "reopen"):
                    body = {"status": "resolved" if step == "close" else "open", "reason": "burst"}
                    response = staff.patch(f"/api/v1/incidents/{incident}/", body, format="json")
                else:
                    queued = ResponseAction.objects.filter(incident=incident, status=ActionStatus.QUEUED)
                    pk = queued.values_list("pk", flat=True).first()
                    claim = action_claim(pk) if pk is not None else None
                    if claim is not None:
                        action_record_result(claim.attempt_id, Result.ok("Isolated."))
                    done.append(step)
                    continue
            except Exception as error:  # noqa: BLE001 - every failure is collected and asserted on
                errors.append(f"{step}: {type(error).__name__}: {error}")
                continue
            done.append(step)
            if response.status_code >= 500:
                errors.append(f"{step}: {response.status_code}")

    workers = [Running(lambda seed=seed: work(seed)) for seed in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.outcome(timeout=60)
    assert errors == []
    assert len(done) > 20  # the burst did happen
    assert not ResponseAction.objects.filter(status=ActionStatus.RUNNING).exists()
