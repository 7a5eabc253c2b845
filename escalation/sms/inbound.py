"""A text message that comes in: 1 or ACK acknowledges, STOP and START opt out and in, anything else is
answered with what the sender can do. A text never authorizes anything.

The sender is matched by number to the most recent text we sent to that number about an incident that is
still open (or contained): that names the contact and the incident.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import phonenumbers
from django.core.exceptions import ValidationError

from escalation.acknowledgments.services import acknowledgment_record
from escalation.models import TextMessage, TextStatus
from escalation.reader import ReaderCan, acknowledged_line, reader_can
from incidents.models import ACTIVE_INCIDENT_STATUSES, Channel
from tenants.texts import contacts_texts_start, contacts_texts_stop

log = logging.getLogger(__name__)

ACK_WORDS = frozenset({"1", "ACK"})
# Twilio's opt-out and opt-in keywords: it blocks or unblocks the number itself on these too.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})

STOPPED = (
    "MDR Ops will send you no more texts. Calls and emails still reach you. Reply START to get texts again."
)
STARTED = "MDR Ops texts are on again for this number."
UNKNOWN = "MDR Ops has no open alert for this number, so nothing was changed. Please use the portal or email."
NOT_RECORDED = "Your acknowledgment could not be recorded: please use the emailed link or the portal."
HELP = "Reply 1 or ACK to acknowledge the MDR Ops alert, STOP to get no more texts. A text never authorizes an action."


@dataclass(frozen=True)
class InboundText:
    """What Twilio posted about a message that came in."""

    sender: str
    body: str
    sid: str


def keyword(body: str) -> str:
    """The reply as a keyword: case and spaces do not matter (" ack " and "A C K" are ACK)."""
    return "".join(body.split()).upper()


def e164(number: str) -> str:
    """The sender's number in E.164, or "" when it is not a phone number."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(parsed):
        return ""
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def open_text_to(number: str) -> TextMessage | None:
    """The most recent text sent to this number about an incident that is still open, or None."""
    return (
        TextMessage.objects.filter(
            to=number, status=TextStatus.SENT, incident__status__in=ACTIVE_INCIDENT_STATUSES
        )
        .select_related("contact__tenant", "incident__tenant")
        .order_by("-sent_at", "-id")
        .first()
    )


def sms_received(message: InboundText) -> str:
    """Act on a text that came in; the reply to send back (a short sentence)."""
    number, word = e164(message.sender), keyword(message.body)
    if not number:
        log.warning("text %s from an unreadable number ignored", message.sid)
        return UNKNOWN
    if word in STOP_WORDS:
        stopped = contacts_texts_stop(number=number)
        log.info("text %s: STOP from %s, %d contact(s) opted out", message.sid, number, len(stopped))
        return STOPPED
    if word in START_WORDS:
        started = contacts_texts_start(number=number)
        log.info("text %s: START from %s, %d contact(s) opted in", message.sid, number, len(started))
        return STARTED
    if word not in ACK_WORDS:
        return HELP
    sent = open_text_to(number)
    if sent is None or sent.contact.phone != number:
        log.warning(
            "text %s: acknowledgment from %s matches no open alert; nothing changed", message.sid, number
        )
        return UNKNOWN
    try:
        acknowledgment_record(incident=sent.incident, channel=Channel.SMS, contact=sent.contact)
    except ValidationError as error:
        log.warning(
            "text %s: acknowledgment from %s refused: %s", message.sid, number, " ".join(error.messages)
        )
        return NOT_RECORDED
    can = reader_can(sent.contact, sent.incident)
    return acknowledged_line(can if can is not ReaderCan.KNOW else ReaderCan.ACKNOWLEDGE)
