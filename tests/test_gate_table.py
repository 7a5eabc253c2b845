"""The gate over every combination of tier x mode x checkbox x fallback x performer x category x authorized."""

from __future__ import annotations

import itertools

import pytest

from incidents.gate import ActionFacts, Facts, GateOutcome, Policy, decide
from incidents.models import Basis, Category
from tenants.models import Performer, ResponseMode, Tier

ANY = object()
C, N = Category.CONTAINMENT, Category.NEUTRALIZATION
E, X = Tier.ESSENTIALS, Tier.COMPLETE
COLLAB, AUTH = ResponseMode.COLLABORATE, ResponseMode.AUTHORIZE

# The decision table, read top-down; the first row that matches decides. Columns:
# tier, mode, checkbox, fallback taken, performer, category, authorized -> outcome, basis
TABLE = [
    # Authorize mode: MDR Ops acts on everything the tier allows, whoever the Collaborate performer is.
    ((ANY, AUTH, ANY, ANY, ANY, C, ANY), (GateOutcome.EXECUTE, Basis.AUTHORIZE_MODE)),
    ((X, AUTH, ANY, ANY, ANY, N, ANY), (GateOutcome.EXECUTE, Basis.AUTHORIZE_MODE)),
    # What the tier keeps from MDR Ops goes to whoever performs it under the policy.
    ((E, AUTH, ANY, ANY, Performer.CUSTOMER, N, ANY), (GateOutcome.RECOMMEND_CUSTOMER, None)),
    ((E, AUTH, ANY, ANY, Performer.PARTNER, N, ANY), (GateOutcome.RECOMMEND_PARTNER, None)),
    ((E, AUTH, ANY, ANY, Performer.MDR, N, ANY), (GateOutcome.NOT_ALLOWED_FOR_TIER, None)),
    # Collaborate with the checkbox ticked and the fallback taken: as in Authorize mode.
    ((ANY, COLLAB, True, True, ANY, C, ANY), (GateOutcome.EXECUTE, Basis.NO_ACK_FALLBACK)),
    ((X, COLLAB, True, True, ANY, N, ANY), (GateOutcome.EXECUTE, Basis.NO_ACK_FALLBACK)),
    ((E, COLLAB, True, True, Performer.CUSTOMER, N, ANY), (GateOutcome.RECOMMEND_CUSTOMER, None)),
    ((E, COLLAB, True, True, Performer.PARTNER, N, ANY), (GateOutcome.RECOMMEND_PARTNER, None)),
    ((E, COLLAB, True, True, Performer.MDR, N, ANY), (GateOutcome.NOT_ALLOWED_FOR_TIER, None)),
    # Otherwise Collaborate: the performer decides, then the tier, then written authorization.
    ((ANY, COLLAB, ANY, ANY, Performer.CUSTOMER, ANY, ANY), (GateOutcome.RECOMMEND_CUSTOMER, None)),
    ((ANY, COLLAB, ANY, ANY, Performer.PARTNER, ANY, ANY), (GateOutcome.RECOMMEND_PARTNER, None)),
    ((E, COLLAB, ANY, ANY, Performer.MDR, N, ANY), (GateOutcome.NOT_ALLOWED_FOR_TIER, None)),
    ((ANY, COLLAB, ANY, ANY, Performer.MDR, ANY, True), (GateOutcome.EXECUTE, Basis.WRITTEN_AUTHORIZATION)),
    ((ANY, COLLAB, ANY, ANY, Performer.MDR, ANY, False), (GateOutcome.AWAIT_AUTHORIZATION, None)),
]

AXES = [
    list(Tier),
    list(ResponseMode),
    [False, True],
    [False, True],
    list(Performer),
    list(Category),
    [False, True],
]
CASES = list(itertools.product(*AXES))


def expected(case: tuple) -> tuple:
    for pattern, result in TABLE:
        if all(p is ANY or p == v for p, v in zip(pattern, case, strict=True)):
            return result
    raise AssertionError(f"no row of the table covers {case}")


def test_table_covers_every_combination() -> None:
    assert len(CASES) == 2 * 2 * 2 * 2 * 3 * 2 * 2 == 192
    for case in CASES:
        expected(case)
    print(f"gate table: {len(CASES)} combinations")


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(str(getattr(v, "value", v)) for v in c))
def test_gate_decides_as_the_table_says(case: tuple) -> None:
    tier, mode, checkbox, fallback, performer, category, authorized = case
    policy = Policy(
        tier=tier, response_mode=mode, authorize_on_no_ack=checkbox, performers={"act": performer}
    )
    decision = decide(policy, ActionFacts(code="act", category=category), Facts(authorized, fallback))
    assert (decision.outcome, decision.basis) == expected(case)
    assert decision.reason


def test_phone_acknowledgment_is_not_an_authorization() -> None:
    policy = Policy(tier=X, response_mode=COLLAB, authorize_on_no_ack=False)
    decision = decide(
        policy, ActionFacts("isolate_endpoint", C), Facts(authorized=False, fallback_taken=False)
    )
    assert decision.outcome is GateOutcome.AWAIT_AUTHORIZATION
    assert "phone acknowledgment is not" in decision.reason
