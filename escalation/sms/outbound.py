"""The texts a notification run sends, at the moment its emails go: what each says, and to whom."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from escalation.links.tokens import LinkIds, LinkPurpose, link_url
from escalation.models import NotificationRun, RunPurpose, TextKind, TextMessage
from escalation.reader import Reader, ask_line, reader_for
from escalation.runs.tell import acknowledged_recipients, first_acknowledger
from escalation.selectors import report_mentions
from escalation.sms.send import TextBody, text_claim, texts_allowed
from escalation.story import story_read
from incidents.models import Incident
from tenants.models import Contact
from tenants.selectors import tenant_contacts

MAX_TITLE_CHARS = 100
# The texts that close the loop are of their own kinds, as the admin and the timeline show them.
TEXT_KIND_OF: dict[str, TextKind] = {
    RunPurpose.ACKNOWLEDGED: TextKind.ACKNOWLEDGED,
    RunPurpose.CLOSED: TextKind.CLOSED,
}


def one_line(text: str, limit: int) -> str:
    """The text on one line, cut to the limit with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def text_body(*, contact: Contact, incident: Incident, purpose: str = RunPurpose.NOTIFY) -> TextBody:
    """Title, severity, what this contact can do and a signed acknowledgment link made for them. A contact who
    may acknowledge is asked for a reply: the body is then made from the text's reply code."""
    reader = reader_for(contact, incident)
    # A text that only tells (who acknowledged, the incident closed) asks for no reply: it holds no code.
    if not reader.acknowledges or purpose in TEXT_KIND_OF:
        return text_words(contact=contact, incident=incident, purpose=purpose, reader=reader, code="")
    return lambda code: text_words(
        contact=contact, incident=incident, purpose=purpose, reader=reader, code=code
    )


def text_words(*, contact: Contact, incident: Incident, purpose: str, reader: Reader, code: str) -> str:
    tenant = one_line(incident.tenant.name, 60)
    title = one_line(incident.title, MAX_TITLE_CHARS)
    severity = incident.get_severity_display()
    if purpose == RunPurpose.ACKNOWLEDGED:
        who = one_line(first_acknowledger(incident), 60)
        return (
            f"MDR Ops for {tenant}: {who} acknowledged incident #{incident.pk} ({severity}): {title}. "
            "Our calls about it have stopped."
        )
    if purpose == RunPurpose.CLOSED:
        done = len(report_mentions(incident))
        url = settings.PUBLIC_BASE_URL + reverse("incidents:detail", args=[incident.pk])
        return (
            f"MDR Ops for {tenant}: incident #{incident.pk} ({severity}): {title} is "
            f"{incident.get_status_display().lower()}. Actions by MDR Ops: {done}. Timeline: {url}"
        )
    if purpose == RunPurpose.REPORT:
        told = story_read(incident, report_mentions(incident)).spoken
        head = f"MDR Ops acted for {tenant} on incident #{incident.pk} ({severity}): {title}. {told}".strip()
    else:
        head = f"MDR Ops security alert for {tenant}: {severity} incident #{incident.pk}: {title}."
    parts = [head, ask_line(reader, where="sms", code=code)]
    if reader.acknowledges:
        ids: LinkIds = {"tenant_id": incident.tenant_id, "contact_id": contact.pk, "incident_id": incident.pk}
        parts.append(link_url(purpose=LinkPurpose.ACK, **ids))
    return " ".join(parts)


def text_recipients(run: NotificationRun) -> list[Contact]:
    """The customer's contacts who take texts, in call order. The partner's people hear about the actions
    delegated to them by email: a text is for acknowledging, which is not theirs to do."""
    if run.purpose == RunPurpose.ACKNOWLEDGED:
        return [c for c in acknowledged_recipients(run.incident) if texts_allowed(c)]
    return [c for c in tenant_contacts(run.incident.tenant) if texts_allowed(c)]


def texts_claim(run: NotificationRun) -> list[TextMessage]:
    """Claim the run's texts; each is sent by its own task once this transaction commits.

    Called by the run's step with the run locked: a contact who already has a text of this run gets no
    second one.
    """
    already = set(run.texts.values_list("contact_id", flat=True))
    claimed = []
    for contact in text_recipients(run):
        if contact.pk in already:
            continue
        body = text_body(contact=contact, incident=run.incident, purpose=run.purpose)
        kind = TEXT_KIND_OF.get(run.purpose, TextKind.NOTIFY)
        text = text_claim(contact=contact, incident=run.incident, kind=kind, body=body, run=run)
        if text is not None:
            claimed.append(text)
    return claimed
