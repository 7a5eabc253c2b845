"""Notification emails: claimed as rows inside a run's step, sent once each by their own task, recorded.

emails_claim creates one EmailNotification per recipient (unique per run and contact) in the run's
transaction and nudges a send after commit. email_send takes a row from claimed to sending with a
conditional UPDATE that must change exactly one row, composes the message (with freshly signed links), hands
it to the mail server outside any transaction and records sent or failed, each with a timeline event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from escalation.links.tokens import LinkPurpose, link_url
from escalation.models import EmailKind, EmailNotification, EmailOutcome, NotificationRun, RunPurpose
from escalation.nudges import nudge
from escalation.reader import Reader, ReaderCan, ask_line, awaiting_note, reader_for, subject_need
from escalation.runs.tell import acknowledged_recipients, first_acknowledger
from escalation.selectors import report_mentions
from escalation.story import Story, story_read
from incidents.events import timeline_record
from incidents.locks import incident_lock
from incidents.models import ActionStatus, Category, Channel, EventKind, Incident, ResponseAction
from incidents.policy import PolicySnapshot
from incidents.selectors import awaiting_authorization
from mdrportal.core.retry import retried_atomic
from tenants.channels import ContactChannel, wants
from tenants.models import Contact, Performer, Tier
from tenants.selectors import tenant_contacts

log = logging.getLogger(__name__)

# A row still "sending" after this long belongs to a worker that died while handing it over.
SENDING_TIMEOUT = timedelta(minutes=10)
INTERRUPTED = "interrupted; may or may not have been delivered"
SENDER_LABEL = "MDR Ops mailer"


def _with_email(contacts: QuerySet[Contact]) -> list[Contact]:
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
        return _with_email(acknowledged_recipients(incident))
    recipients = _with_email(tenant_contacts(tenant))
    if run.purpose == RunPurpose.NOTIFY and tenant.partner_id and _partner_actions(incident).exists():
        recipients += _with_email(Contact.objects.filter(partner_id=tenant.partner_id).order_by("call_order"))
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


EMAIL_KIND_OF = {
    RunPurpose.NOTIFY: EmailKind.NOTIFY,
    RunPurpose.REPORT: EmailKind.REPORT,
    RunPurpose.ACKNOWLEDGED: EmailKind.ACKNOWLEDGED,
    RunPurpose.CLOSED: EmailKind.CLOSED,
}


def nudge_email(email_id: int) -> None:
    """Ask a worker to send the email once this transaction commits; a lost nudge waits for the sweeper."""
    nudge("escalation.email_send", email_id)


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
    return {
        ActionStatus.QUEUED: "MDR Ops is performing it.",
        ActionStatus.RUNNING: "MDR Ops is performing it.",
        ActionStatus.SUCCEEDED: "Done by MDR Ops.",
        ActionStatus.FAILED: "MDR Ops could not perform it; an analyst is following up.",
        ActionStatus.DECLINED: "Declined in writing: MDR Ops will not perform it.",
        ActionStatus.HELD: "Held for an MDR analyst to review before anything is done.",
        ActionStatus.REVERTED: "Done by MDR Ops, then reverted.",
    }.get(status, action.get_status_display())


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


def _variant(email: EmailNotification) -> str:
    if email.kind in (EmailKind.ACKNOWLEDGED, EmailKind.CLOSED):
        return str(email.kind)
    if email.contact.partner_id is not None:
        return "partner"
    if email.kind == EmailKind.REPORT:
        return "report"
    if PolicySnapshot.read(email.run.incident).authorize_mode:
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
    incident = run.incident
    variant = _variant(email)
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
        context["actions"] = _lines(list(_partner_actions(incident)), incident, to_partner=True, can=can)
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
    ids = {"tenant_id": incident.tenant_id, "contact_id": contact.pk, "incident_id": incident.pk}
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


def email_send(email_id: int) -> str:
    """Send one claimed email, at most once. Returns the outcome, or "" when another delivery had it.

    Must run outside any transaction: the mail server is called between the claim and the record.
    """
    now = timezone.now()
    # The claim: of any number of deliveries of this task, exactly one moves the row to sending.
    # claimed_at is reset to the moment sending starts, from which the sweeper measures a stuck send.
    taken = EmailNotification.objects.filter(pk=email_id, outcome=EmailOutcome.CLAIMED).update(
        outcome=EmailOutcome.SENDING, claimed_at=now
    )
    if taken != 1:
        return ""
    email = EmailNotification.objects.select_related("run__incident__tenant__partner", "contact").get(
        pk=email_id
    )
    try:
        composed = email_compose(email)
    except Exception as error:  # noqa: BLE001 - whatever broke, the row must not stay "sending"
        log.exception("could not compose email %s", email_id)
        _record(email, EmailOutcome.FAILED, subject="", error=f"could not compose the email: {error!r}")
        return EmailOutcome.FAILED
    # Kept before the hand-over, so that an interrupted send still says what it was.
    EmailNotification.objects.filter(pk=email_id, outcome=EmailOutcome.SENDING).update(
        subject=composed.subject
    )
    message = EmailMultiAlternatives(
        subject=composed.subject,
        body=composed.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers={"Auto-Submitted": "auto-generated", "X-MDR-Incident": str(email.run.incident_id)},
    )
    message.attach_alternative(composed.html, "text/html")
    try:
        message.send(fail_silently=False)
    except Exception as error:  # noqa: BLE001 - SMTP, network or backend errors alike end as failed
        # Not retried, on purpose: at most once. The server may have taken the message before the error
        # reached us (a timeout after DATA), so a retry could deliver it twice; the failure is on the
        # timeline for an analyst, and the call tree and later rounds still reach the customer.
        log.warning("email %s to %s failed: %s", email_id, email.to, error)
        _record(email, EmailOutcome.FAILED, subject=composed.subject, error=str(error) or repr(error))
        return EmailOutcome.FAILED
    _record(email, EmailOutcome.SENT, subject=composed.subject, composed=composed)
    return EmailOutcome.SENT


@retried_atomic
def _record(
    email: EmailNotification,
    outcome: str,
    *,
    subject: str,
    error: str = "",
    composed: ComposedEmail | None = None,
) -> None:
    incident_lock(email.run.incident_id)  # it writes the timeline: the incident's lock first
    changes: dict[str, object] = {"outcome": outcome, "subject": subject[:300], "error": error}
    if outcome == EmailOutcome.SENT:
        changes["sent_at"] = timezone.now()
    changed = EmailNotification.objects.filter(pk=email.pk, outcome=EmailOutcome.SENDING).update(**changes)
    if changed != 1:
        # Only the sweeper moves a "sending" row, after SENDING_TIMEOUT: it already told the timeline.
        log.warning("email %s was no longer sending when its %s outcome came", email.pk, outcome)
        return
    contact = email.contact
    if outcome == EmailOutcome.SENT:
        assert composed is not None
        links = {"ack": composed.ack, "authorize": composed.authorize_scope}
        summary = f"Email sent to {contact.name} <{email.to}>: {subject}"
        _tell_timeline(email, summary, outcome, subject, links=links)
    else:
        summary = f"Email to {contact.name} <{email.to}> could not be sent: {error}"
        _tell_timeline(email, summary, outcome, subject, error=error)


def _tell_timeline(
    email: EmailNotification, summary: str, outcome: str, subject: str, **more: object
) -> None:
    """The email's outcome on its incident's timeline, with the email's particulars."""
    timeline_record(
        incident=email.run.incident,
        kind=EventKind.NOTIFICATION_SENT,
        summary=summary,
        label=SENDER_LABEL,
        channel=Channel.SYSTEM,
        data={
            "email": email.pk,
            "run": email.run_id,
            "kind": email.kind,
            "contact": email.contact_id,
            "to": email.to,
            "subject": subject,
            "outcome": outcome,
            **more,
        },
    )


def emails_fail_interrupted(*, older_than: timedelta = SENDING_TIMEOUT) -> int:
    """Mark emails stuck in "sending" (their worker died mid-send) as failed, without sending them again.

    Whether the server got the message is unknown; sending again could deliver it twice. Returns how many.
    """
    cutoff = timezone.now() - older_than
    stuck = list(
        EmailNotification.objects.filter(outcome=EmailOutcome.SENDING, claimed_at__lt=cutoff)
        .select_related("run__incident", "contact")
        .order_by("pk")
    )
    failed = 0
    for email in stuck:
        with transaction.atomic():
            incident_lock(email.run.incident_id)
            changed = EmailNotification.objects.filter(
                pk=email.pk, outcome=EmailOutcome.SENDING, claimed_at__lt=cutoff
            ).update(outcome=EmailOutcome.FAILED, error=INTERRUPTED)
            if changed != 1:
                continue
            failed += 1
            summary = (
                f"Email to {email.contact.name} <{email.to}> was interrupted while being sent: it may or may "
                "not have been delivered, and is not sent again."
            )
            _tell_timeline(email, summary, EmailOutcome.FAILED, email.subject, error=INTERRUPTED)
    return failed
