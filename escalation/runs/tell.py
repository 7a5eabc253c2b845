"""Close the loop with people: when someone acknowledges, the others who were told of the incident hear who
did; when the incident is resolved or closed, the customer's contacts get a short summary.

Each is a run that only tells (emails and texts through the same claim-send-record rows as every run, no
calls): made under the incident's lock, its one step claims the messages and ends it.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from escalation.models import Acknowledgment, NotificationRun, RunPurpose, TextKind
from escalation.nudges import nudge_run
from escalation.runs.plan import round_next
from incidents.models import EventKind, Incident
from incidents.timeline_writes import timeline_record
from tenants.models import Contact


def _run(incident: Incident, purpose: str, summary: str) -> NotificationRun:
    run = NotificationRun.objects.create(
        incident=incident, purpose=purpose, round=round_next(incident, purpose), plan=[]
    )
    timeline_record(
        incident=incident, kind=EventKind.NOTIFICATION_STARTED, summary=summary, data={"run": run.pk}
    )
    nudge_run(run.pk)
    return run


def tell_acknowledged(incident: Incident, ack: Acknowledgment) -> NotificationRun | None:
    """The first acknowledgment of a locked incident: tell the others who were told of it who has it."""
    if incident.acknowledgments.exclude(pk=ack.pk).exists():
        return None  # they were told at the first one
    if not acknowledged_recipients(incident, ack).exists():
        return None
    who = first_acknowledger(incident)
    return _run(incident, RunPurpose.ACKNOWLEDGED, f"Telling the other contacts that {who} acknowledged.")


def tell_closed(incident: Incident) -> NotificationRun:
    """A locked incident just resolved or closed: its summary to the customer's contacts."""
    state = incident.get_status_display().lower()
    return _run(incident, RunPurpose.CLOSED, f"Telling the customer's contacts that the incident is {state}.")


def first_acknowledger(incident: Incident) -> str:
    ack: Acknowledgment | None = (
        incident.acknowledgments.select_related("contact", "user").order_by("at", "id").first()
    )
    if ack is None:
        return "nobody"
    if ack.contact is not None:
        return ack.contact.name
    assert ack.user is not None  # an acknowledgment names a contact or a user (ack_names_who)
    return ack.user.get_username()


def acknowledged_recipients(incident: Incident, ack: Acknowledgment | None = None) -> QuerySet[Contact]:
    """The customer's contacts who were told of the incident (emailed, texted or phoned by a round), but
    the one who acknowledged."""
    ack = ack or incident.acknowledgments.order_by("at", "id").first()
    told = (
        Q(pk__in=incident.notification_runs.filter(purpose=RunPurpose.NOTIFY).values("emails__contact"))
        | Q(pk__in=incident.texts.filter(kind=TextKind.NOTIFY).values("contact"))
        | Q(pk__in=incident.notification_runs.filter(purpose=RunPurpose.NOTIFY).values("calls__contact"))
    )
    contacts = Contact.objects.filter(told, tenant_id=incident.tenant_id, active=True)
    if ack is not None and ack.contact_id is not None:
        contacts = contacts.exclude(pk=ack.contact_id)
    return contacts.order_by("call_order")
