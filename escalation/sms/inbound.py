"""A text message that comes in: "1 4821" (or "ACK 4821") acknowledges the alert whose reply code is 4821,
STOP and START opt out and in, anything else is answered with what the sender can do. A text never authorizes
anything.

One number may get alerts of several customers (an MSP's engineer is a contact at each), so the code names
the alert: the incident, and the contact it was texted to. A bare "1" acknowledges only when the number has
exactly one open alert; otherwise the answer lists them with their codes and nothing changes.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import phonenumbers
from django.core.exceptions import ValidationError

from escalation.acknowledgments.services import acknowledgment_record
from escalation.models import TextKind, TextMessage
from escalation.partners.texts import ALREADY, partner_text_replied, partner_text_run
from escalation.reader import ReaderCan, acknowledged_line, reader_can
from escalation.sms.codes import open_alerts, text_with_code
from escalation.sms.outbound import one_line
from incidents.models import ACTIVE_INCIDENT_STATUSES, Channel
from tenants.texts import contacts_texts_start, contacts_texts_stop

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    from escalation.sms.codes import Acked

log = logging.getLogger(__name__)

# The reply as read by `keyword`: "1 4821" is 14821, "ack 4821" is ACK4821, a bare "1" has no code.
ACK_REPLY = re.compile(r"(?:1|ACK)(?P<code>[0-9]{0,8})")
# Open alerts named in one answer; a longer list would split into many texts.
LISTED = 5
# Twilio's opt-out and opt-in keywords: it blocks or unblocks the number itself on these too.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})

STOPPED = (
    "MDR Ops will send you no more texts. Calls and emails still reach you. Reply START to get texts again."
)
STARTED = "MDR Ops texts are on again for this number."
UNKNOWN = "MDR Ops has no open alert for this number, so nothing was changed. Please use the portal or email."
NOT_RECORDED = "Your acknowledgment could not be recorded: please use the emailed link or the portal."
HELP = (
    "Reply 1 and the alert's code (as in 1 4821) to acknowledge an MDR Ops alert, STOP to get no more texts. "
    "A text never authorizes an action."
)


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


def alert_name(text: TextMessage) -> str:
    """The incident and the customer a text is about, short: "incident #12 for Acme (Ransomware on FS01)"."""
    incident = text.incident
    tenant, title = one_line(incident.tenant.name, 40), one_line(incident.title, 60)
    return f"incident #{incident.pk} for {tenant} ({title})"


def alerts_list(alerts: list[TextMessage]) -> str:
    """How to acknowledge each open alert: "Reply 1 4821 for Acme #12: Ransomware on FS01, 1 7710 for ..."."""
    each = [
        f"1 {a.reply_code} for {one_line(a.incident.tenant.name, 30)} #{a.incident_id}: "
        f"{one_line(a.incident.title, 40)}"
        for a in alerts[:LISTED]
    ]
    more = f", and {len(alerts) - LISTED} more: see the portal" if len(alerts) > LISTED else ""
    return f"Reply {', '.join(each)}{more}."


def stale_code(
    text: WithAnnotations[TextMessage, Acked] | None, *, number: str, code: str, alerts: list[TextMessage]
) -> str:
    """The answer to a code that names no open alert: what became of its alert, when it had one."""
    said = f"No open MDR Ops alert to this number has the code {code}, so nothing was changed."
    if text is not None and text.contact.phone == number:
        if text.kind == TextKind.PARTNER_TASK:
            said = ALREADY.format(task=one_line(str(partner_text_run(text).task), 60))
        elif text.acked:
            said = f"Nothing was changed: {alert_name(text)} was already acknowledged."
        elif text.incident.status not in ACTIVE_INCIDENT_STATUSES:
            said = f"Nothing was changed: {alert_name(text)} is {text.incident.get_status_display().lower()}."
    # The alerts still open at the number, with their codes: what the reply may have meant.
    return f"{said} {alerts_list(alerts)}" if alerts else said


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
    ack = ACK_REPLY.fullmatch(word)
    if ack is None:
        return HELP
    code, alerts = ack["code"], open_alerts(number)
    if code:
        alert = next((a for a in alerts if a.reply_code == code), None)
        if alert is None:
            log.info(
                "text %s: code %s from %s names no open alert; nothing changed", message.sid, code, number
            )
            return stale_code(text_with_code(number, code), number=number, code=code, alerts=alerts)
    elif len(alerts) == 1:
        (alert,) = alerts
    elif alerts:
        return (
            f"Nothing was changed: this number has {len(alerts)} open MDR Ops alerts. {alerts_list(alerts)}"
        )
    else:
        log.warning(
            "text %s: acknowledgment from %s matches no open alert; nothing changed", message.sid, number
        )
        return UNKNOWN
    if alert.kind == TextKind.PARTNER_TASK:
        return partner_text_replied(alert)  # the partner's task only, never the customer's incident
    try:
        acknowledgment_record(incident=alert.incident, channel=Channel.SMS, contact=alert.contact)
    except ValidationError as error:
        log.warning(
            "text %s: acknowledgment from %s refused: %s", message.sid, number, " ".join(error.messages)
        )
        return NOT_RECORDED
    can = reader_can(alert.contact, alert.incident)
    return acknowledged_line(
        can if can is not ReaderCan.KNOW else ReaderCan.ACKNOWLEDGE, what=alert_name(alert)
    )
