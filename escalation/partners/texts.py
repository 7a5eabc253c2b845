"""Texts of the partner's call tree: a contact of the partner who takes texts is texted when the tree reaches
them, with a reply code and a link that acknowledge the task, never the customer's incident.

A reply or a link of a partner's text leads only to partner_task_acknowledge: no Acknowledgment row is
written, so the customer's calls and its fallback go on (DESIGN rules 6 and 13). An engineer who is a contact
of both the customer and its partner holds one code for each: each acknowledges its own side only.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from escalation.links.tokens import LinkPurpose, link_url
from escalation.models import NotificationRun, RunPurpose, TextKind, TextMessage
from escalation.partners.models import TaskAcknowledgment
from escalation.partners.services import partner_task_acknowledge
from escalation.sms.outbound import one_line
from escalation.sms.send import text_claim
from incidents.locks import incident_lock
from incidents.models import Channel, Incident, ResponseAction
from mdrportal.core.retry import retried_atomic
from tenants.models import Contact

ALREADY = "Nothing was changed: the partner's task {task} was already acknowledged or is no longer open."


def partner_text_words(*, task: ResponseAction, incident: Incident, contact: Contact, code: str) -> str:
    """What the partner's text says: whose task, what to do, the reply code and the task's own link."""
    tenant = one_line(incident.tenant.name, 60)
    title = one_line(incident.title, 80)
    url = link_url(
        purpose=LinkPurpose.TASK_ACK,
        tenant_id=incident.tenant_id,
        contact_id=contact.pk,
        incident_id=incident.pk,
        action_ids=[task.pk],
    )
    return (
        f"MDR Ops: a task for {one_line(str(incident.tenant.partner), 60)} from {tenant}, incident "
        f"#{incident.pk} ({incident.get_severity_display()}): {title}. Task: {one_line(str(task), 100)}. "
        f"Reply 1 {code} to acknowledge the task (not the incident for {tenant}), or: {url}"
    )


def partner_text_reached(run: NotificationRun, incident: Incident, contact: Contact) -> TextMessage | None:
    """The partner's tree has reached the contact (its call is queued, the run locked): the contact is texted
    about the task if they take texts and this run did not text them yet."""
    if run.purpose != RunPurpose.PARTNER_TASK or run.texts.filter(contact=contact).exists():
        return None
    task = ResponseAction.objects.select_related("action_type").get(pk=run.partner_task_id)
    return text_claim(
        contact=contact,
        incident=incident,
        kind=TextKind.PARTNER_TASK,
        body=lambda code: partner_text_words(task=task, incident=incident, contact=contact, code=code),
        run=run,
    )


def partner_text_run(text: TextMessage) -> NotificationRun:
    """The partner's run that sent a partner's text: each is sent by its run (partner_text_reached)."""
    if text.run is None:
        raise ValueError(f"text #{text.pk} about a partner's task is of no run")
    return text.run


def partner_text_replied(text: TextMessage) -> str:
    """A reply "1 <code>" to a partner's text: the task of its run acknowledged, and what to answer."""
    task = ResponseAction.objects.select_related("action_type").get(pk=partner_text_run(text).partner_task_id)
    try:
        ack = _acknowledge_by_text(text)
    except ValidationError:
        ack = None
    if ack is None:
        return ALREADY.format(task=one_line(str(task), 60))
    return (
        f"Acknowledged the task {one_line(str(task), 60)} for {one_line(text.incident.tenant.name, 40)} "
        f"(incident #{text.incident_id}). The incident itself is not acknowledged by this."
    )


@retried_atomic
def _acknowledge_by_text(text: TextMessage) -> TaskAcknowledgment | None:
    incident = incident_lock(text.incident_id)
    if not Contact.objects.filter(pk=text.contact_id, active=True).exists():
        return None  # deactivated since the text: no longer one of the partner's people
    run = partner_text_run(text)
    return partner_task_acknowledge(incident, run=run, contact=text.contact, channel=Channel.SMS)


def partner_task_link_acknowledge(*, incident: Incident, task: ResponseAction, contact: Contact) -> None:
    """A task link used (inside the link's transaction): the task's partner run acknowledged by the contact.
    Raises ValidationError when there is nothing to acknowledge any more."""
    locked = incident_lock(incident.pk)
    if not contact.active:
        raise ValidationError(f"{contact} is no longer an active contact of the partner.", code="inactive")
    run = task.partner_runs.order_by("-pk").first()
    if run is None:
        raise ValidationError("The partner was not asked about this task.", code="no_run")
    if partner_task_acknowledge(locked, run=run, contact=contact, channel=Channel.EMAIL_LINK) is None:
        raise ValidationError(ALREADY.format(task=task), code="task_answered")
