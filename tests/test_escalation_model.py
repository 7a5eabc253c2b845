"""The escalation engine against a model of the phone, the broker and the people, step by step.

Invariants checked after every step (tests/escalation_model.py):
(a) no action is queued, running, succeeded or failed without a basis the records support;
(b) a fallback implies every step of an exhausted call plan rang as an attempt (DESIGN rule 5), nobody
    acknowledged or decided before it, the incident was active and its policy ticks the checkbox;
(c) no call is placed after an acknowledgment, a written decision or a close;
(d) every call row reaches the phone provider at most once;
(e) a text reply never authorizes, and acknowledges only for a contact texted about the incident.

CI runs a bounded number of sequences; `bench/escalation-model` runs 10,000 and more on demand.
"""

from __future__ import annotations

import os

import pytest

from tests.escalation_model import run_model
from tests.factories import UNPACED

pytestmark = pytest.mark.django_db

SEQUENCES = int(os.environ.get("MDR_MODEL_SEQUENCES", "150"))


def test_no_sequence_of_calls_messages_and_decisions_breaks_the_fallbacks_invariants(
    settings, capsys
) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.TWILIO_CPS = UNPACED
    settings.CALL_STATUS_GRACE_SECONDS = 10
    settings.RENOTIFY_DELAY_MINUTES = 1
    settings.RENOTIFY_ROUNDS = 1
    counts = run_model(max_examples=SEQUENCES, derandomize=os.environ.get("MDR_MODEL_RANDOM") != "1")
    with capsys.disabled():
        print("\nescalation model: " + ", ".join(f"{v} {k}" for k, v in counts.items()) + ", 0 violations")
    assert counts["sequences"] >= min(SEQUENCES, 10)
