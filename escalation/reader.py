"""What the reader of a message can do about an incident, decided in one place for emails, texts and calls.

A contact of the customer who may authorize is asked for a written decision when actions await one; any
other contact of the customer can acknowledge ("we have it") and is told that an approver decides; the
partner's people are told what concerns them, and that their firm's approvers decide in the portal when the
customer delegated its decisions to the partner (tenants.deciding), else that there is nothing for them to do.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from escalation.acknowledgments.rule import incident_acknowledgeable
from incidents.models import Incident
from incidents.policy import PolicySnapshot
from incidents.selectors import awaiting_authorization
from tenants.models import Contact


class ReaderCan(enum.StrEnum):
    AUTHORIZE = "authorize"  # acknowledge, and authorize or decline in writing
    ACKNOWLEDGE = "acknowledge"
    KNOW = "know"  # nothing but know


@dataclass(frozen=True)
class Reader:
    """One contact as the reader of one message about one incident."""

    can: ReaderCan
    # Actions await written authorization now: someone's decision is needed.
    decision_awaited: bool
    # A partner's contact whose firm the customer lets decide for it (in the portal, never by link or phone).
    partner_decides: bool = False

    @property
    def asked_to_decide(self) -> bool:
        return self.can is ReaderCan.AUTHORIZE and self.decision_awaited

    @property
    def acknowledges(self) -> bool:
        return self.can is not ReaderCan.KNOW


def reader_can(contact: Contact, incident: Incident) -> ReaderCan:
    """From the contact's role and the incident's policy: Authorize mode asks nobody for a decision."""
    if contact.tenant_id != incident.tenant_id or not contact.active:
        return ReaderCan.KNOW
    if not incident_acknowledgeable(incident):
        return ReaderCan.KNOW  # resolved or closed: no call comes, nothing to acknowledge
    if contact.can_authorize and not PolicySnapshot.read(incident).authorize_mode:
        return ReaderCan.AUTHORIZE
    return ReaderCan.ACKNOWLEDGE


def reader_for(contact: Contact, incident: Incident, *, decision_awaited: bool | None = None) -> Reader:
    """The reader; `decision_awaited` may be given when the caller read it for many incidents at once."""
    if decision_awaited is None:
        decision_awaited = awaiting_authorization(incident).exists()
    tenant = incident.tenant if contact.partner_id is not None else None
    partner_decides = (
        tenant is not None and tenant.partner_id == contact.partner_id and tenant.partner_decides
    )
    return Reader(
        can=reader_can(contact, incident), decision_awaited=decision_awaited, partner_decides=partner_decides
    )


# The words. "Where" is how the message reaches the reader: what acknowledging and deciding take there.
HOW_TO_ACKNOWLEDGE = {
    "voice": "Press 1 to acknowledge.",
    "sms": "Reply 1 {code} to acknowledge, or open the link.",
    "email": "Acknowledge with the link below.",
}
WHERE_TO_DECIDE = {
    "voice": "by the emailed link or in the portal",
    "sms": "by the emailed link or in the portal; a text reply never authorizes",
    "email": "with the link below or in the portal",
}


def decision_line(reader: Reader, *, where: str) -> str:
    """What the message says about the decision that actions await, as this reader can act on it."""
    if not reader.decision_awaited:
        return ""
    if reader.can is ReaderCan.AUTHORIZE:
        return f"Your decision is needed: actions await your written authorization, {WHERE_TO_DECIDE[where]}."
    if reader.can is ReaderCan.ACKNOWLEDGE:
        return "Actions await written authorization from one of your approvers; you cannot authorize them."
    return ""


def ask_line(reader: Reader, *, where: str, code: str = "") -> str:
    """Everything this reader is asked to do: the decision first (if theirs), then how to acknowledge. A text
    tells its reply code, which names the incident the reply acknowledges."""
    if reader.can is ReaderCan.KNOW and reader.partner_decides:
        return (
            "The customer lets your firm decide for it: your approvers acknowledge, authorize or decline in "
            "the portal."
        )
    if reader.can is ReaderCan.KNOW:
        return "For your information: there is nothing for you to do about this incident."
    if where == "sms" and not code:
        raise ValueError("A text that asks for a reply tells its reply code.")
    how = HOW_TO_ACKNOWLEDGE[where].format(code=code)
    return " ".join(part for part in (decision_line(reader, where=where), how) if part)


def subject_need(reader: Reader) -> str:
    """The part of an email's subject that says whose decision is needed, if any."""
    if not reader.decision_awaited:
        return ""
    if reader.can is ReaderCan.AUTHORIZE:
        return ", your decision is needed"
    if reader.can is ReaderCan.ACKNOWLEDGE:
        return ", awaiting your approvers' decision"
    return ""


def awaiting_note(can: ReaderCan) -> str:
    """How an action that awaits written authorization is described to this reader."""
    if can is ReaderCan.AUTHORIZE:
        return "Awaits your written authorization: MDR Ops performs it only once you authorize it."
    return "Awaits written authorization from one of your approvers: MDR Ops performs it only once they do."


def acknowledged_line(can: ReaderCan, *, what: str = "") -> str:
    """What a reader hears or reads once their acknowledgment is recorded; `what` names the incident where
    the reader may have more than one (a text reply)."""
    done = f"Acknowledged {what}." if what else "Acknowledged."
    if can is ReaderCan.AUTHORIZE:
        return f"{done} This is not an authorization of any action; use the emailed link or the portal."
    return f"{done} This is not an authorization of any action."
