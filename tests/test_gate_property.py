"""Whatever happens on an incident, the gate never says 'execute' without a basis the events justify."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.gate import ActionFacts, Facts, Outcome, decide_safely
from incidents.models import Basis, Category
from tenants.models import Performer, ResponseMode, Tier

policies = st.fixed_dictionaries(
    {
        "tier": st.sampled_from(Tier.values),
        "response_mode": st.sampled_from(ResponseMode.values),
        "authorize_on_no_ack": st.booleans(),
        "performers": st.dictionaries(
            st.sampled_from(["a", "b"]), st.sampled_from(Performer.values), max_size=2
        ),
    }
)
# A snapshot as it might be found damaged or from an older version: the gate must hold, never run.
broken_policies = st.one_of(
    st.dictionaries(
        st.text(max_size=8), st.one_of(st.none(), st.text(max_size=8), st.booleans()), max_size=5
    ),
    policies.map(lambda p: {**p, "authorize_on_no_ack": "yes"}),
    policies.map(lambda p: {**p, "tier": "platinum"}),
    policies.map(lambda p: {k: v for k, v in p.items() if k != "response_mode"}),
)
events = st.lists(
    st.sampled_from(
        ["acknowledged", "authorization_granted", "authorization_declined", "fallback_taken", "call"]
    ),
    max_size=12,
)


def fold(history: list[str]) -> Facts:
    """The facts as the incident's records would give them after these events."""
    authorized = False
    for event in history:
        if event == "authorization_granted":
            authorized = True
        elif event == "authorization_declined":
            authorized = False
    return Facts(authorized=authorized, fallback_taken="fallback_taken" in history)


@settings(max_examples=400, deadline=None)
@given(
    policy=policies, history=events, code=st.sampled_from(["a", "b", "c"]), category=st.sampled_from(Category)
)
def test_execute_always_rests_on_a_basis_the_events_justify(
    policy: dict[str, Any], history: list[str], code: str, category: Category
) -> None:
    for step in range(len(history) + 1):
        decision = decide_safely(policy, ActionFacts(code, category), fold(history[:step]))
        if not decision.executes:
            assert decision.basis is None
            continue
        assert decision.basis is not None
        if category is Category.NEUTRALIZATION:
            assert policy["tier"] == Tier.COMPLETE
        if decision.basis is Basis.AUTHORIZE_MODE:
            assert policy["response_mode"] == ResponseMode.AUTHORIZE
        elif decision.basis is Basis.NO_ACK_FALLBACK:
            assert policy["authorize_on_no_ack"] and "fallback_taken" in history[:step]
        else:
            assert decision.basis is Basis.WRITTEN_AUTHORIZATION
            assert "authorization_granted" in history[:step]
            assert policy["performers"].get(code, Performer.MDR) == Performer.MDR


@settings(max_examples=200, deadline=None)
@given(
    policy=broken_policies,
    facts=st.builds(Facts, st.booleans(), st.booleans()),
    category=st.sampled_from(Category),
)
def test_an_unreadable_policy_holds_instead_of_executing(
    policy: dict[str, Any], facts: Facts, category: Category
) -> None:
    decision = decide_safely(policy, ActionFacts("a", category), facts)
    assert decision.outcome is Outcome.HOLD
    assert decision.basis is None


def test_an_unknown_category_holds() -> None:
    policy = {
        "tier": "complete",
        "response_mode": "authorize",
        "authorize_on_no_ack": False,
        "performers": {},
    }
    decision = decide_safely(policy, ActionFacts("a", "eradication"), Facts())  # type: ignore[arg-type]
    assert decision.outcome is Outcome.HOLD


ROUTING_AXES = [
    list(ResponseMode),
    list(Tier),
    [False, True],  # checkbox
    [False, True],  # fallback taken
    list(Performer),
    list(Category),
]


@pytest.mark.parametrize(
    "case",
    list(itertools.product(*ROUTING_AXES)),
    ids=lambda c: "-".join(str(getattr(v, "value", v)) for v in c),
)
def test_the_gate_routes_work_to_a_performer_and_a_partners_action_stays_the_partners(case: tuple) -> None:
    mode, tier, checkbox, fallback, performer, category = case
    policy = {
        "tier": tier,
        "response_mode": mode,
        "authorize_on_no_ack": checkbox,
        "performers": {"a": performer},
    }
    for authorized in (False, True):
        decision = decide_safely(policy, ActionFacts("a", category), Facts(authorized, fallback))
        assert decision.outcome is not Outcome.HOLD, decision
        assert decision.performer in Performer, decision
        assert decision.reason
        if decision.performer is Performer.MDR:
            # MDR Ops holds only what it may do: in the tier, performed or awaiting its authorization.
            assert category is Category.CONTAINMENT or tier == Tier.COMPLETE
            continue
        # Whatever MDR Ops does not do goes to whoever performs it; a partner's action stays the partner's.
        if performer is not Performer.MDR:
            assert decision.performer is performer, decision
        else:
            assert decision.outcome is Outcome.NOT_ALLOWED_FOR_TIER
            assert decision.performer is Performer.CUSTOMER
