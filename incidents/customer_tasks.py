"""The customer's tasks: an action recommended to the customer's team or to its partner, which they mark
done or not done with a note. The task is the ResponseAction itself; its status says where it stands
(recommended, then done or not done), and every mark is a timeline event with who.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from incidents.actions import action_apply_decision, action_move
from incidents.active_guard import incident_must_be_active
from incidents.attention import incident_flag
from incidents.locks import action_lock
from incidents.models import ActionStatus, Channel, EventKind, ResponseAction
from incidents.selectors import gate_decision
from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import User
from tenants.models import Membership, PartnerMembership, Performer, Tenant
from tenants.rules import may_decide
from tenants.selectors import tenants_for_user
from tenants.services import actor_label

TASK_PERFORMERS = (Performer.CUSTOMER, Performer.PARTNER)
OPEN_TASK_STATUS = ActionStatus.RECOMMENDED
MARKED_TASK_STATUSES = (ActionStatus.DONE, ActionStatus.NOT_DONE)
TASK_STATUSES = (OPEN_TASK_STATUS, *MARKED_TASK_STATUSES)
# Tasks nobody has done: open, or marked not done. MDR Ops follows these up and may take them over.
UNDONE_TASK_STATUSES = (OPEN_TASK_STATUS, ActionStatus.NOT_DONE)
NOTE_MAX_LENGTH = 2000


def tasks() -> QuerySet[ResponseAction]:
    """Every task, open or marked."""
    return ResponseAction.objects.filter(performer__in=TASK_PERFORMERS, status__in=TASK_STATUSES)


def open_tasks() -> QuerySet[ResponseAction]:
    return tasks().filter(status=OPEN_TASK_STATUS)


def tasks_for_user(user: User) -> QuerySet[ResponseAction]:
    """The tasks of every tenant the user may see, open ones first, oldest first."""
    return (
        tasks()
        .filter(incident__tenant__in=tenants_for_user(user))
        .select_related("action_type", "incident__tenant")
        .order_by("-status", "proposed_at", "pk")  # descending: "recommended" (open) before the marked ones
    )


def tenant_tasks(tenant: Tenant) -> QuerySet[ResponseAction]:
    """The tenant's tasks: open ones first, then the marked ones, oldest first."""
    return (
        tasks()
        .filter(incident__tenant=tenant)
        .select_related("action_type", "incident")
        .order_by("-status", "proposed_at", "pk")
    )


def performers_marked_by(user: User, tenant: Tenant) -> set[str]:
    """Whose tasks the user marks at this tenant: the customer's through an admin or approver role at the
    tenant, the partner's through one at the tenant's partner. Two queries, whatever the number of tasks."""
    if not user.is_authenticated or not user.is_active:
        return set()
    sides: set[str] = set()
    if may_decide(Membership.objects.filter(user=user, tenant=tenant).values_list("role", flat=True).first()):
        sides.add(Performer.CUSTOMER)
    if tenant.partner_id is not None:
        role = (
            PartnerMembership.objects.filter(user=user, partner_id=tenant.partner_id)
            .values_list("role", flat=True)
            .first()
        )
        if may_decide(role):
            sides.add(Performer.PARTNER)
    return sides


def may_mark_task(user: User, task: ResponseAction) -> bool:
    return task.performer in performers_marked_by(user, task.incident.tenant)


@retried_atomic
def task_mark(
    *, task: ResponseAction, by: User, done: bool, note: str = "", channel: str = Channel.PORTAL
) -> ResponseAction:
    """The customer (or its partner) says whether it did what was recommended; recorded with who and the note.

    An open task may be marked done or not done; a task not done may later be marked done.
    """
    note = note.strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError({"note": f"Keep the note under {NOTE_MAX_LENGTH} characters."})
    if not done and not note:
        raise ValidationError({"note": "Say why it was not done."})
    locked = action_lock(task.pk)
    if not may_mark_task(by, locked):
        side = "partner's" if locked.performer == Performer.PARTNER else "customer's"
        raise PermissionDenied(f"Only the {side} admins and approvers mark this task.")
    if locked.performer not in TASK_PERFORMERS or locked.status not in TASK_STATUSES:
        raise ValidationError({"status": f"{locked} is not a task for the customer or its partner."})
    incident_must_be_active(locked.incident, what="marking its tasks")
    status = ActionStatus.DONE if done else ActionStatus.NOT_DONE
    if status == locked.status:
        raise ValidationError(
            {"status": f"{locked} is already marked {locked.get_status_display().lower()}."}
        )
    if locked.status == ActionStatus.DONE:
        raise ValidationError({"status": f"{locked} is done: it cannot be marked again."})
    who = actor_label(by)
    action_move(
        locked,
        status,
        reason=f"Marked {'done' if done else 'not done'} by {who}" + (f": {note}" if note else "."),
        by=by,
        channel=channel,
        kind=EventKind.TASK_MARKED,
        data={"done": done, "note": note, "performer": locked.performer},
    )
    if not done:
        # Not done by whoever was to do it: nobody holds it unless an analyst takes it up.
        incident_flag(
            incident=locked.incident,
            reason=f"{locked} was marked not done by {who}: {note} An analyst should follow up; MDR Ops "
            "may take it over.",
            by=by,
            channel=channel,
        )
    return locked


@retried_atomic
def task_take_over(*, task: ResponseAction, by: User, reason: str) -> ResponseAction:
    """An analyst decides that MDR Ops performs a task the customer or partner has not done (open, overdue or
    marked not done): recorded with who and why, and routed by the gate with MDR Ops as the performer, so
    it waits for written authorization in Collaborate mode and is refused where the tier excludes it."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": "Say why MDR Ops takes this task over."})
    locked = action_lock(task.pk)
    incident_must_be_active(locked.incident, what="taking a task over")
    if locked.performer not in TASK_PERFORMERS or locked.status not in UNDONE_TASK_STATUSES:
        raise ValidationError(
            {
                "status": f"{locked} is {locked.get_status_display().lower()}: only a task nobody has done yet "
                "can be taken over."
            }
        )
    locked.taken_over_at = timezone.now()
    decision = gate_decision(locked)
    if decision.performer != Performer.MDR:
        raise ValidationError({"status": f"MDR Ops cannot take {locked} over: {decision.reason}"})
    locked.save(update_fields=["taken_over_at", "updated_at"])
    side = "the partner" if locked.performer == Performer.PARTNER else "the customer's team"
    action_apply_decision(
        locked,
        decision,
        by=by,
        channel=Channel.ADMIN,
        why=f"MDR Ops takes it over from {side} ({actor_label(by)}: {reason}).",
    )
    return locked
