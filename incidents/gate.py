"""The authorization gate: may MDR Ops perform this action now, and on what basis? Pure, no database."""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from incidents.models import Basis, Category
from tenants.models import Performer, ResponseMode, Tier
from tenants.protected import Protection

log = logging.getLogger(__name__)


class GateError(ValueError):
    """The inputs do not describe a policy or an action the gate understands."""


class GateOutcome(enum.StrEnum):
    EXECUTE = "execute"
    AWAIT_AUTHORIZATION = "await_authorization"
    RECOMMEND_CUSTOMER = "recommend_customer"
    RECOMMEND_PARTNER = "recommend_partner"
    NOT_ALLOWED_FOR_TIER = "not_allowed_for_tier"
    HOLD = "hold"  # the gate could not decide; nothing runs until a person looks


@dataclass(frozen=True)
class Policy:
    tier: Tier
    response_mode: ResponseMode
    authorize_on_no_ack: bool
    performers: Mapping[str, Performer] = field(default_factory=dict)
    protected: Protection = field(default_factory=Protection)

    @classmethod
    def from_snapshot(cls, snapshot: Mapping[str, Any]) -> Policy:
        """Strict: a snapshot with a missing or unknown value is refused, never guessed."""
        try:
            checkbox = snapshot["authorize_on_no_ack"]
            if not isinstance(checkbox, bool):
                raise GateError(f"authorize_on_no_ack must be true or false, not {checkbox!r}")
            return cls(
                tier=Tier(snapshot["tier"]),
                response_mode=ResponseMode(snapshot["response_mode"]),
                authorize_on_no_ack=checkbox,
                performers={code: Performer(p) for code, p in (snapshot.get("performers") or {}).items()},
                protected=Protection.from_snapshot(snapshot.get("protected")),
            )
        except (KeyError, ValueError, TypeError, AttributeError) as error:
            raise GateError(f"unreadable policy snapshot: {error!r}") from error

    def performer_of(self, action_code: str) -> Performer:
        return self.performers.get(action_code, Performer.MDR)


@dataclass(frozen=True)
class ActionFacts:
    code: str
    category: Category
    target: str = ""


@dataclass(frozen=True)
class Facts:
    """What has happened on the incident that bears on the action."""

    authorized: bool = False  # a granted written authorization names this action
    fallback_taken: bool = False  # every contact was phoned and nobody acknowledged
    # An analyst decided that MDR Ops performs this action, which the policy gave the customer or partner
    # (declined, not done or overdue there): MDR Ops is its performer, the rest of the rule unchanged.
    mdr_takes_over: bool = False


# Who holds an action after each outcome: MDR Ops, or the one the action goes to.
PERFORMER_OF: dict[GateOutcome, Performer] = {
    GateOutcome.EXECUTE: Performer.MDR,
    GateOutcome.AWAIT_AUTHORIZATION: Performer.MDR,
    GateOutcome.RECOMMEND_CUSTOMER: Performer.CUSTOMER,
    GateOutcome.RECOMMEND_PARTNER: Performer.PARTNER,
    GateOutcome.NOT_ALLOWED_FOR_TIER: Performer.CUSTOMER,
    GateOutcome.HOLD: Performer.MDR,
}


@dataclass(frozen=True)
class Decision:
    outcome: GateOutcome
    reason: str
    basis: Basis | None = None

    def __post_init__(self) -> None:
        if (self.outcome is GateOutcome.EXECUTE) != (self.basis is not None):
            raise GateError(f"a decision to execute needs a basis, and only it has one: {self!r}")

    @property
    def executes(self) -> bool:
        return self.outcome is GateOutcome.EXECUTE

    @property
    def performer(self) -> Performer:
        """Who holds the action after this decision."""
        return PERFORMER_OF[self.outcome]


def _tier_excludes(policy: Policy, category: Category) -> str:
    return f"{Tier(policy.tier).label} does not include {Category(category).label.lower()} by MDR Ops"


def _protected(why: str, basis: Basis, facts: Facts) -> Decision:
    """A protected target or action type in Authorize mode or under the fallback: only the customer's
    written authorization lets MDR Ops act on it."""
    if facts.authorized:
        return Decision(
            GateOutcome.EXECUTE,
            f"MDR Ops performs it now: the customer authorized it in writing ({why}).",
            Basis.WRITTEN_AUTHORIZATION,
        )
    when = "in Authorize mode" if basis is Basis.AUTHORIZE_MODE else "under the no-acknowledgment fallback"
    return Decision(
        GateOutcome.AWAIT_AUTHORIZATION,
        f"Waiting for the customer's written authorization: {why}, which MDR Ops never acts on without "
        f"one, {when} too.",
    )


def decide(policy: Policy, action: ActionFacts, facts: Facts) -> Decision:
    """The one rule for every action: DESIGN.md rules 2, 3, 6, 7 and 14.

    A basis (Authorize mode, the fallback) lets MDR Ops act on what the tier allows; whatever MDR Ops does
    not do goes to whoever performs it under the policy, so a partner's action stays the partner's.
    """
    category = Category(action.category)
    in_tier = category is Category.CONTAINMENT or policy.tier is Tier.COMPLETE

    if policy.response_mode is ResponseMode.AUTHORIZE:
        basis, why = Basis.AUTHORIZE_MODE, "the customer is in Authorize mode"
    elif policy.authorize_on_no_ack and facts.fallback_taken:
        basis, why = Basis.NO_ACK_FALLBACK, "nobody acknowledged after every contact was phoned"
    else:
        basis, why = None, ""

    if basis is not None and in_tier:
        protected = policy.protected.why(code=action.code, target=action.target)
        if protected is not None:
            return _protected(protected, basis, facts)
        return Decision(GateOutcome.EXECUTE, f"MDR Ops performs it now: {why}.", basis)

    # With a basis, the tier is why MDR Ops does not act: the reason says so.
    beyond = f" ({_tier_excludes(policy, category)})" if basis is not None else ""
    performer = Performer.MDR if facts.mdr_takes_over else policy.performer_of(action.code)
    if performer is Performer.CUSTOMER:
        return Decision(
            GateOutcome.RECOMMEND_CUSTOMER,
            f"Recommended to the customer: its own team performs this action{beyond}.",
        )
    if performer is Performer.PARTNER:
        return Decision(
            GateOutcome.RECOMMEND_PARTNER, f"Recommended to the partner, who performs this action{beyond}."
        )
    if not in_tier:
        return Decision(
            GateOutcome.NOT_ALLOWED_FOR_TIER, f"Customer action required: {_tier_excludes(policy, category)}."
        )
    if facts.authorized:
        return Decision(
            GateOutcome.EXECUTE,
            "MDR Ops performs it now: the customer authorized it in writing.",
            Basis.WRITTEN_AUTHORIZATION,
        )
    return Decision(
        GateOutcome.AWAIT_AUTHORIZATION,
        "Waiting for the customer's written authorization (Collaborate mode; a phone acknowledgment is not one).",
    )


def decide_safely(snapshot: Mapping[str, Any], action: ActionFacts, facts: Facts) -> Decision:
    """The gate as callers use it: any error becomes a hold, never an execution."""
    try:
        return decide(Policy.from_snapshot(snapshot), action, facts)
    except Exception as error:  # noqa: BLE001 - no fail-open, whatever went wrong
        log.exception("gate error for action %s", action.code)
        return Decision(GateOutcome.HOLD, f"Held for an analyst: the gate could not decide ({error}).")
