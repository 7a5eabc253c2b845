"""What a message tells happened, read from the incident's records, and its words: one wording per basis.

Every email, text and call that says what MDR Ops did takes its sentences from here (DESIGN rule 14): the
bases of the actions it reports, the calls the fallback's timeline event lists as its proof, the written
authorizations that name the actions. A basis no action rests on is never told.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from escalation.models import CallOutcome
from incidents.models import Authorization, Basis, EventKind, Incident, ResponseAction

# The order in which a message tells the bases, when its actions rest on more than one.
BASIS_ORDER = (Basis.AUTHORIZE_MODE, Basis.NO_ACK_FALLBACK, Basis.WRITTEN_AUTHORIZATION)


@dataclass(frozen=True)
class CallTold:
    """One call of the fallback's proof, as a message lists it."""

    contact: str
    outcome: str

    @property
    def line(self) -> str:
        label = dict(CallOutcome.choices).get(self.outcome, self.outcome or "unknown")
        return f"{self.contact}: {label.lower()}"


@dataclass(frozen=True)
class Story:
    """The facts one message about an incident tells: on what bases MDR Ops acted, and the proof of each."""

    tenant: str
    bases: tuple[Basis, ...]
    calls: tuple[CallTold, ...] = ()  # the fallback's attempts, from its timeline event
    approvers: tuple[str, ...] = ()  # who authorized in writing the actions told

    @property
    def contacts_phoned(self) -> int:
        return len({call.contact for call in self.calls})

    def _sentence(self, basis: Basis) -> str:
        if basis is Basis.AUTHORIZE_MODE:
            return (
                f"As {self.tenant}'s Authorize mode asks, MDR Ops responded at once without waiting for anyone, "
                "and is telling you now."
            )
        if basis is Basis.NO_ACK_FALLBACK:
            contacts = f"{self.contacts_phoned} contact{'s' if self.contacts_phoned != 1 else ''}"
            calls = f"{len(self.calls)} call{'s' if len(self.calls) != 1 else ''}"
            return (
                f"We phoned {contacts} ({calls}) and nobody acknowledged, so, as {self.tenant}'s settings "
                "allow when nobody answers, MDR Ops acted as in Authorize mode for this incident."
            )
        who = ", ".join(self.approvers) or "your approver"
        return f"MDR Ops performed the actions {who} authorized in writing."

    @property
    def sentences(self) -> list[str]:
        return [self._sentence(basis) for basis in self.bases]

    @property
    def intro(self) -> str:
        """What happened, for an email: the threat, then one sentence per basis the actions rest on."""
        return " ".join([f"MDR Ops detected an active threat at {self.tenant}.", *self.sentences])

    @property
    def spoken(self) -> str:
        """What happened, for a call or a text: one short sentence per basis."""
        short = {
            Basis.AUTHORIZE_MODE: "In Authorize mode, MDR Ops acted without waiting.",
            Basis.NO_ACK_FALLBACK: f"Nobody acknowledged our calls to {self.contacts_phoned} of your "
            "contacts, so MDR Ops acted as your settings allow.",
            Basis.WRITTEN_AUTHORIZATION: "MDR Ops acted on your written authorization.",
        }
        return " ".join(short[basis] for basis in self.bases)

    @property
    def subject(self) -> str:
        """The subject's words for what happened."""
        if Basis.NO_ACK_FALLBACK in self.bases:
            return "nobody answered, MDR Ops acted on"
        if Basis.AUTHORIZE_MODE in self.bases:
            return "MDR Ops responded (Authorize mode) to"
        if Basis.WRITTEN_AUTHORIZATION in self.bases:
            return "MDR Ops acted on your written authorization for"
        return "what MDR Ops did on"

    @property
    def call_lines(self) -> list[str]:
        return [call.line for call in self.calls]


def _fallback_calls(incident: Incident) -> tuple[CallTold, ...]:
    event = incident.events.filter(kind=EventKind.FALLBACK_TAKEN).order_by("id").first()
    attempts = (event.data or {}).get("attempts", []) if event is not None else []
    return tuple(
        CallTold(contact=str(a.get("contact", "a contact")), outcome=str(a.get("outcome", "")))
        for a in attempts
        if isinstance(a, dict)
    )


def _approvers(actions: list[ResponseAction]) -> tuple[str, ...]:
    ids = {a.authorization_id for a in actions if a.authorization_id}
    names = []
    for authorization in Authorization.objects.filter(pk__in=ids).select_related("contact", "user"):
        who = authorization.contact or authorization.user
        if who is not None and str(who) not in names:
            names.append(str(who))
    return tuple(names)


def story_read(incident: Incident, done: Iterable[ResponseAction]) -> Story:
    """The story of the actions a message reports as done, from the incident's records."""
    done = list(done)
    present = {a.basis for a in done}
    bases = tuple(basis for basis in BASIS_ORDER if basis in present)
    calls = _fallback_calls(incident) if Basis.NO_ACK_FALLBACK in bases else ()
    written = [a for a in done if a.basis == Basis.WRITTEN_AUTHORIZATION]
    return Story(
        tenant=incident.tenant.name,
        bases=bases,
        calls=calls,
        approvers=_approvers(written) if written else (),
    )
