"""The escalation engine against a model of the phone, the broker and the people, step by step.

Invariants checked after every step (tests/escalation_model.py):
(a) no action is queued, running, succeeded or failed without a basis the records support;
(b) a fallback implies every step of an exhausted call plan rang as an attempt (DESIGN rule 5), nobody
    acknowledged or decided before it, the incident was active and its policy ticks the checkbox;
(c) no call is placed after an acknowledgment, a written decision or a close;
(d) every call row reaches the phone provider at most once;
(e) a run's plan is made when the run comes due (a round scheduled for later: when its time comes) and
    holds exactly the contacts available (not away) then, the others named as unavailable; a notification
    run with nobody available flags the incident;
(f) the fallback never acts unless every contact of a run's frozen plan has an attempt, and never on an
    empty plan (nobody available);
(g) a text reply never authorizes, and acknowledges only for a contact texted about the incident.

CI runs a bounded number of sequences; `bench/escalation-model` runs 10,000 and more on demand.
"""

from __future__ import annotations

import os

import pytest

from tests.escalation_model import run_model

pytestmark = pytest.mark.django_db

SEQUENCES = int(os.environ.get("MDR_MODEL_SEQUENCES", "150"))


@pytest.mark.usefixtures("fast_passwords", "unpaced_calls")
def test_no_sequence_breaks_the_invariants_and_the_fallback_never_acts_unless_every_contact_of_the_frozen_plan_has_an_attempt_nor_when_nobody_is_available(
    settings, capsys
) -> None:
    settings.CALL_STATUS_GRACE_SECONDS = 10
    settings.RENOTIFY_DELAY_MINUTES = 1
    settings.RENOTIFY_ROUNDS = 1
    counts = run_model(max_examples=SEQUENCES, derandomize=os.environ.get("MDR_MODEL_RANDOM") != "1")
    with capsys.disabled():
        print("\nescalation model: " + ", ".join(f"{v} {k}" for k, v in counts.items()) + ", 0 violations")
    assert counts["sequences"] >= min(SEQUENCES, 10)
