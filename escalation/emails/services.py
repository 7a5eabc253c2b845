"""Notification emails: claimed as rows inside a run's step and composed with freshly signed links; each is
sent once by its own task and recorded (escalation.emails.send).

emails_claim creates one EmailNotification per recipient (unique per run and contact) in the run's
transaction and nudges a send after commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse

from escalation.links.tokens import LinkIds, LinkPurpose, link_url
from escalation.models import EmailKind, EmailNotification, NotificationRun, RunPurpose
from escalation.reader import Reader, ReaderCan, ask_line, awaiting_note, reader_for, subject_need
from escalation.runs.tell import acknowledged_recipients, first_acknowledger
from escalation.selectors import report_mentions
from escalation.story import Story, story_read
from incidents.customer_tasks import OPEN_TASK_STATUS
from incidents.models import ActionStatus, Category, Incident, ResponseAction
from incidents.policy import PolicySnapshot
from incidents.selectors import awaiting_authorization
from mdrportal.core import task_names
from mdrportal.core.nudges import nudge
from mdrportal.core.outbox import NotDelivered
from tenants.channels import ContactChannel, wants
from tenants.models import Contact, Performer, Tier
from tenants.selectors import tenant_contacts

log = logging.getLogger(__name__)

SENDER_LABEL = "MDR Ops mailer"


def contacts_by_email(contacts: QuerySet[Contact]) -> list[Contact]:
    """Active contacts with an address who chose email (a JSON list, read here: SQLite cannot filter it)."""
    return [c for c in contacts.filter(active=True).exclude(email="") if wants(c, ContactChannel.EMAIL)]


def _partner_actions(incident: Incident) -> QuerySet[ResponseAction]:
    return (
        incident.actions.filter(performer=Performer.PARTNER)
        .exclude(status=ActionStatus.CANCELED)
        .select_related("action_type")
        .order_by("proposed_at", "pk")
    )


def email_recipients(run: NotificationRun) -> list[Contact]:
    """Whom a run emails: the tenant's active contacts with an address, in call order; for a notification,
    also the partner's when the incident has actions delegated to the partner."""
    incident = run.incident
    tenant = incident.tenant
    if run.purpose == RunPurpose.ACKNOWLEDGED:
        return contacts_by_email(acknowledged_recipients(incident))
    recipients = contacts_by_email(tenant_contacts(tenant))
    if run.purpose == RunPurpose.NOTIFY and tenant.partner_id and _partner_actions(incident).exists():
        recipients += contacts_by_email(
            Contact.objects.filter(partner_id=tenant.partner_id).order_by("call_order")
        )
    return recipients


def emails_claim(run: NotificationRun) -> list[EmailNotification]:
    """Claim the run's emails as rows; each is sent by its own task once this transaction commits.

    Called by the run's step, inside the transaction that holds the run's lock: claiming again skips the
    contacts that already have a row, so a repeated step sends nobody a second email.
    """
    kind = EMAIL_KIND_OF[run.purpose]
    already = set(EmailNotification.objects.filter(run=run).values_list("contact_id", flat=True))
    claimed = []
    for contact in email_recipients(run):
        if contact.pk in already:
            continue
        email = EmailNotification.objects.create(run=run, contact=contact, to=contact.email, kind=kind)
        nudge_email(email.pk)
        claimed.append(email)
    return claimed


EMAIL_KIND_OF: dict[str, EmailKind] = {
    RunPurpose.NOTIFY: EmailKind.NOTIFY,
    RunPurpose.REPORT: EmailKind.REPORT,
    RunPurpose.ACKNOWLEDGED: EmailKind.ACKNOWLEDGED,
    RunPurpose.CLOSED: EmailKind.CLOSED,
}


def mail_hand_over(*, subject: str, text: str, html: str, to: str, incident_id: int) -> None:
    """Hand one email about an incident to the mail server, outside any transaction; NotDelivered when the
    server (or the network, or the backend) refused it."""
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Auto-Submitted": "auto-generated", "X-MDR-Incident": str(incident_id)},
    )
    message.attach_alternative(html, "text/html")
    try:
        message.send(fail_silently=False)
    except Exception as error:  # noqa: BLE001 - SMTP, network or backend errors alike end as failed
        raise NotDelivered(str(error) or repr(error), fields={"subject": subject}) from error


def nudge_email(email_id: int) -> None:
    """Ask a worker to send the email once this transaction commits; a lost nudge waits for the sweeper."""
    nudge(task_names.EMAIL_SEND, email_id)


@dataclass(frozen=True)
class ActionLine:
    """One action as an email tells it."""

    name: str
    target: str
    status: str
    note: str


@dataclass
class ComposedEmail:
    subject: str
    text: str
    html: str
    ack: bool = False
    authorize_scope: list[int] = field(default_factory=list)


# What the other statuses mean to the customer (or its partner); an action's status field is a plain string.
_STATUS_NOTES: dict[str, str] = {
    ActionStatus.QUEUED: "MDR Ops is performing it.",
    ActionStatus.RUNNING: "MDR Ops is performing it.",
    ActionStatus.SUCCEEDED: "Done by MDR Ops.",
    ActionStatus.FAILED: "MDR Ops could not perform it; an analyst is following up.",
    ActionStatus.DECLINED: "Declined in writing: MDR Ops will not perform it.",
    ActionStatus.HELD: "Held for an MDR analyst to review before anything is done.",
    ActionStatus.REVERTED: "Done by MDR Ops, then reverted.",
}


def _note(action: ResponseAction, incident: Incident, *, to_partner: bool, can: ReaderCan) -> str:
    """What the customer (or its partner) should understand about one action, in their words."""
    status, performer = action.status, action.performer
    if status == ActionStatus.AWAITING_AUTHORIZATION:
        return awaiting_note(can)
    if status == ActionStatus.RECOMMENDED and performer == Performer.PARTNER:
        if to_partner:
            return f"Delegated to you by {incident.tenant.name}: MDR Ops does not perform it."
        partner = incident.tenant.partner
        return f"To be done by your partner{f', {partner.name}' if partner else ''}."
    if status == ActionStatus.RECOMMENDED:
        tier = PolicySnapshot.read(incident).tier
        if action.action_type.category == Category.NEUTRALIZATION and tier is Tier.ESSENTIALS:
            return (
                "Customer action required: MDR Essentials does not include neutralization by MDR Ops, "
                "so your team needs to do it."
            )
        return "To be done by your team."
    return _STATUS_NOTES.get(status, action.get_status_display())


def _lines(
    actions: list[ResponseAction], incident: Incident, *, can: ReaderCan, to_partner: bool = False
) -> list[ActionLine]:
    return [
        ActionLine(
            name=a.action_type.name,
            target=a.target,
            # The note says by whom; "recommended to the customer or partner" would only blur it.
            status="Recommended" if a.status == ActionStatus.RECOMMENDED else a.get_status_display(),
            note=_note(a, incident, to_partner=to_partner, can=can),
        )
        for a in actions
    ]


def _actions(incident: Incident) -> list[ResponseAction]:
    return list(
        incident.actions.exclude(status=ActionStatus.CANCELED)
        .select_related("action_type")
        .order_by("proposed_at", "pk")
    )


def _task_links(tasks: list[ResponseAction], incident: Incident, contact: Contact) -> list[tuple[str, str]]:
    """Each open task's own link for the partner's contact: it acknowledges that task, never the incident."""
    return [
        (
            f"{task.action_type.name} on {task.target}",
            link_url(
                purpose=LinkPurpose.TASK_ACK,
                tenant_id=incident.tenant_id,
                contact_id=contact.pk,
                incident_id=incident.pk,
                action_ids=[task.pk],
            ),
        )
        for task in tasks
        if task.status == OPEN_TASK_STATUS
    ]


def _variant(kind: str, contact: Contact, incident: Incident) -> str:
    if kind in (EmailKind.ACKNOWLEDGED, EmailKind.CLOSED):
        return str(kind)
    if contact.partner_id is not None:
        return "partner"
    if kind == EmailKind.REPORT:
        return "report"
    if PolicySnapshot.read(incident).authorize_mode:
        return "authorize"
    return "collaborate"


def _subject(variant: str, incident: Incident, run: NotificationRun, reader: Reader, story: Story) -> str:
    head = f"[{incident.get_severity_display()}] {incident.tenant.name}"
    decide = subject_need(reader)
    told = story.subject if story.bases or variant == "report" else f"threat detected{decide}"
    what = {
        "collaborate": f"threat detected{decide}: {incident.title}",
        "authorize": f"{told}: {incident.title}",
        "report": f"{told}: {incident.title}",
        "partner": f"actions delegated to you: {incident.title}",
        "acknowledged": f"{first_acknowledger(incident)} acknowledged: {incident.title}",
        "closed": f"{incident.get_status_display().lower()}: {incident.title}",
    }[variant]
    reminder = f" (reminder {run.round})" if run.purpose == RunPurpose.NOTIFY and run.round > 1 else ""
    # One line, whatever the title holds: a header with a line break would be refused or worse.
    return " ".join(f"{head}: {what} (incident #{incident.pk}){reminder}".split())[:300]


def email_compose(email: EmailNotification) -> ComposedEmail:
    """The email as it stands now: actions and their status, and newly signed links for this contact."""
    run, contact = email.run, email.contact
    if run is None or contact is None:
        raise ValueError(f"email #{email.pk} is no run's email to a contact: thread_compose composes it")
    incident = run.incident
    variant = _variant(email.kind, contact, incident)
    reader = reader_for(contact, incident)
    can = reader.can
    context: dict[str, object] = {
        "variant": variant,
        "incident": incident,
        "tenant": incident.tenant,
        "partner": incident.tenant.partner,
        "contact": contact,
        "run": run,
        "link_max_age_hours": settings.LINK_MAX_AGE_HOURS,
        "ask_line": ask_line(reader, where="email"),
    }
    done = report_mentions(incident) if variant in ("authorize", "report", "closed") else []
    story = story_read(incident, done)
    context["story"] = story
    composed = ComposedEmail(subject=_subject(variant, incident, run, reader, story), text="", html="")
    if variant in ("acknowledged", "closed"):
        context["ask_line"] = ""  # it closes the loop: nothing is asked
    if variant == "acknowledged":
        context["acknowledger"] = first_acknowledger(incident)
    elif variant == "closed":
        context["done"] = _lines(done, incident, can=can)
        context["timeline_url"] = settings.PUBLIC_BASE_URL + reverse("incidents:detail", args=[incident.pk])
    elif variant == "partner":
        tasks = list(_partner_actions(incident))
        context["actions"] = _lines(tasks, incident, to_partner=True, can=can)
        context["task_links"] = _task_links(tasks, incident, contact)
        context["tasks_url"] = settings.PUBLIC_BASE_URL + reverse("incidents:tasks")
    elif variant == "collaborate":
        context["actions"] = _lines(_actions(incident), incident, can=can)
    else:
        done_ids = {a.pk for a in done}
        context["done"] = _lines(done, incident, can=can)
        context["needs_you"] = _lines(
            [
                a
                for a in _actions(incident)
                if a.pk not in done_ids
                and a.status
                in (ActionStatus.RECOMMENDED, ActionStatus.AWAITING_AUTHORIZATION, ActionStatus.HELD)
            ],
            incident,
            can=can,
        )
    ids: LinkIds = {"tenant_id": incident.tenant_id, "contact_id": contact.pk, "incident_id": incident.pk}
    # The partner's people are not the customer: they neither acknowledge for it nor authorize. A message
    # that closes the loop asks nothing.
    if reader.acknowledges and variant not in ("acknowledged", "closed"):
        context["ack_url"] = link_url(purpose=LinkPurpose.ACK, **ids)
        composed.ack = True
        if can is ReaderCan.AUTHORIZE:
            # Scoped to what awaits authorization now: an action proposed later needs a later email.
            awaiting = list(awaiting_authorization(incident).order_by("pk"))
            if awaiting:
                composed.authorize_scope = [a.pk for a in awaiting]
                context["authorize_url"] = link_url(
                    purpose=LinkPurpose.AUTHORIZE, action_ids=composed.authorize_scope, **ids
                )
                context["authorize_actions"] = _lines(awaiting, incident, can=can)
    composed.text = render_to_string(f"email/{variant}.txt", context)
    composed.html = render_to_string(f"email/{variant}.html", context)
    return composed
