"""What must hold after every step of the escalation model (DESIGN.md's rules (a) to (d); (e) and (f) on who is
available; (g) on text replies), as a mixin of the machine in tests/escalation_model.py: it reads the machine's incident, its phone
and what it has seen."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from hypothesis.stateful import invariant

from escalation.models import (
    ATTEMPT_OUTCOMES,
    TELLING_PURPOSES,
    Acknowledgment,
    CallAttempt,
    NotificationRun,
    RunPurpose,
    RunState,
    TextMessage,
)
from incidents.models import (
    ACTIVE_INCIDENT_STATUSES,
    ActionStatus,
    Authorization,
    Basis,
    Channel,
    EventKind,
    Incident,
)
from incidents.policy import PolicySnapshot
from mdrportal.core.outbox import OutboxState
from tenants.models import ResponseMode

EXECUTED = (ActionStatus.QUEUED, ActionStatus.RUNNING, ActionStatus.SUCCEEDED, ActionStatus.FAILED)


class InvariantViolated(AssertionError):
    """The engine did what DESIGN.md forbids."""


class EscalationInvariants:
    """The checks; the machine calls check_call_may_be_placed when a call reaches the provider."""

    incident: Incident
    fallback_seen: bool
    fallbacks: int
    phone: Any
    contacts: list[Any]
    away: set[int]
    runs_seen: set[int]

    def check_call_may_be_placed(self, attempt_id: int) -> None:
        """(c) No call is placed after an acknowledgment, a written decision or a close."""
        call = CallAttempt.objects.select_related("run__incident").get(pk=attempt_id)
        if call.run is None:
            return
        incident = call.run.incident
        if incident.status not in ACTIVE_INCIDENT_STATUSES:
            raise InvariantViolated(f"(c) call {attempt_id} placed while the incident is {incident.status}")
        if Acknowledgment.objects.filter(incident=incident).exists() or incident.authorizations.exists():
            raise InvariantViolated(f"(c) call {attempt_id} placed after an acknowledgment or a decision")

    @invariant()
    def every_executed_action_has_a_basis_the_records_support(self) -> None:
        """(a)"""
        if not hasattr(self, "incident"):
            return
        incident = Incident.objects.get(pk=self.incident.pk)
        policies = [incident.policy] + [
            e.data.get("after", {}) for e in incident.events.filter(kind=EventKind.POLICY_REAPPLIED)
        ]
        for action in incident.actions.filter(status__in=EXECUTED).select_related("authorization"):
            if action.basis == Basis.AUTHORIZE_MODE:
                ok = any(p.get("response_mode") == ResponseMode.AUTHORIZE for p in policies)
            elif action.basis == Basis.WRITTEN_AUTHORIZATION:
                authorization = action.authorization
                ok = (
                    authorization is not None
                    and authorization.decision == Authorization.Decision.GRANTED
                    and action.pk in {s["action"] for s in authorization.scope}
                )
            elif action.basis == Basis.NO_ACK_FALLBACK:
                ok = (
                    incident.fallback_taken_at is not None
                    and incident.events.filter(kind=EventKind.FALLBACK_TAKEN).exists()
                )
            else:
                ok = False
            if not ok:
                raise InvariantViolated(
                    f"(a) {action} is {action.status} on basis {action.basis!r} without record"
                )

    @invariant()
    def a_fallback_rests_on_attempts_that_rang_and_nobody_having_it(self) -> None:
        """(b), checked when the fallback is first seen: in the step that took it."""
        if not hasattr(self, "incident") or self.fallback_seen:
            return
        incident = Incident.objects.get(pk=self.incident.pk)
        if incident.fallback_taken_at is None:
            return
        self.fallback_seen = True
        type(self).fallbacks += 1
        taken = incident.fallback_taken_at
        if incident.status not in ACTIVE_INCIDENT_STATUSES:
            raise InvariantViolated("(b) fallback taken on an incident that is not active")
        if not PolicySnapshot.read(incident).falls_back:
            raise InvariantViolated("(b) fallback taken under a policy without the checkbox")
        if Acknowledgment.objects.filter(incident=incident, at__lte=taken).exists():
            raise InvariantViolated("(b) fallback taken although somebody acknowledged")
        if incident.authorizations.filter(at__lte=taken).exists():
            raise InvariantViolated("(b) fallback taken although the customer decided in writing")
        proof = incident.events.get(kind=EventKind.FALLBACK_TAKEN).data["attempts"]
        steps = {(p["contact_id"], p["try"]) for p in proof}
        plans = [
            {(s["contact"], s["try"]) for s in run.plan}
            for run in incident.notification_runs.filter(purpose=RunPurpose.NOTIFY, state="exhausted")
        ]
        if not plans or steps not in plans or len(steps) != len(proof):
            raise InvariantViolated(
                f"(b) the fallback's attempts {sorted(steps)} are not a whole plan {plans}"
            )
        for item in proof:
            call = CallAttempt.objects.get(pk=item["call"])
            if call.outcome not in ATTEMPT_OUTCOMES or not self.phone.rang(call.provider_sid):
                raise InvariantViolated(f"(b) call {call.pk} in the proof never rang ({call.outcome})")

    @invariant()
    def a_run_plans_the_contacts_available_when_it_comes_due_and_nobody_available_is_flagged(self) -> None:
        """(e) A run's plan is made when the run comes due (at once, or for a round scheduled for later when
        its time comes) and holds exactly the contacts not away then, the others named as unavailable; a
        notification run with nobody available flags the incident."""
        if not hasattr(self, "incident"):
            return
        everyone = {c.pk for c in self.contacts}
        runs = NotificationRun.objects.filter(incident=self.incident).exclude(purpose__in=TELLING_PURPOSES)
        for run in runs.exclude(pk__in=self.runs_seen):  # a run that only tells phones nobody: no plan
            if run.plan is None:
                continue  # scheduled for later: no plan until it comes due
            self.runs_seen.add(run.pk)
            if run.state == RunState.ACTIVE and run.next_step_at > timezone.now() and not run.emails.exists():
                raise InvariantViolated(f"(e) run {run.pk} was planned before it came due")
            planned = {s["contact"] for s in run.plan}
            unavailable = {u["contact"] for u in run.unavailable}
            if planned != everyone - self.away or unavailable != everyone & self.away:
                raise InvariantViolated(
                    f"(e) run {run.pk} plans {sorted(planned)} and leaves out {sorted(unavailable)} while "
                    f"{sorted(self.away)} of {sorted(everyone)} are away"
                )
            flagged = self.incident.events.filter(
                kind=EventKind.FLAGGED, summary__startswith="Nobody available"
            )
            if run.purpose == RunPurpose.NOTIFY and not run.plan and not flagged.exists():
                raise InvariantViolated(
                    f"(e) run {run.pk} has nobody available and the incident is not flagged"
                )

    @invariant()
    def the_fallback_never_acts_unless_every_contact_of_the_frozen_plan_has_an_attempt_nor_on_an_empty_plan(
        self,
    ) -> None:
        """(f) Whenever the fallback has been taken, some exhausted notification run has a non-empty frozen
        plan each step of which has a call in that run that rang (DESIGN rule 6: every contact available at
        the time), and no contact it left out as unavailable was phoned by it."""
        if not hasattr(self, "incident"):
            return
        incident = Incident.objects.get(pk=self.incident.pk)
        if incident.fallback_taken_at is None:
            return
        for run in incident.notification_runs.filter(purpose=RunPurpose.NOTIFY, state="exhausted"):
            rang = {
                (c.contact_id, c.try_number)
                for c in run.calls.filter(
                    outcome__in=ATTEMPT_OUTCOMES, ended_at__lte=incident.fallback_taken_at
                )
            }
            left_out = {u["contact"] for u in run.unavailable}
            phoned_left_out = run.calls.filter(contact_id__in=left_out).exists()
            if run.plan and all((s["contact"], s["try"]) in rang for s in run.plan) and not phoned_left_out:
                return
        raise InvariantViolated(
            "(f) the fallback acted without an attempt of every contact of a non-empty plan"
        )

    @invariant()
    def a_text_acknowledges_only_what_was_texted_and_never_authorizes(self) -> None:
        """(g)"""
        if not hasattr(self, "incident"):
            return
        if Authorization.objects.filter(incident=self.incident, channel=Channel.SMS).exists():
            raise InvariantViolated("(g) a text reply was recorded as a written authorization")
        for ack in Acknowledgment.objects.filter(incident=self.incident, channel=Channel.SMS):
            texted = TextMessage.objects.filter(
                incident=self.incident, contact=ack.contact_id, state=OutboxState.SENT, sent_at__lte=ack.at
            )
            if not texted.exists():
                raise InvariantViolated(f"(g) {ack} by text names a contact never texted about the incident")
