"""A model of the world around one incident, for hypothesis' stateful testing of the escalation engine.

The engine is the real one: services, tasks (run by name, as a worker would), the sweeper, the database.
Only the outside world is modelled: a phone provider with its carrier (it accepts or refuses calls, rings,
is answered, gets 1 pressed, sends callbacks late, twice or out of order) and a broker that delivers, loses,
duplicates or reorders messages. Time passes by moving the rows' clocks back. After every step the
invariants are checked; a broken one raises InvariantViolated.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import F
from django.test import TestCase
from django.utils import timezone
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

import escalation.tasks  # noqa: F401 - the worker's tasks, run by name
import incidents.tasks  # noqa: F401
from escalation.acknowledgments.services import acknowledgment_record
from escalation.calls.dispatch import call_claim_next, call_place
from escalation.calls.progress import call_update
from escalation.links.tokens import LinkError, LinkPurpose, link_make, link_read
from escalation.links.use import link_use
from escalation.models import Acknowledgment, CallAttempt, EmailNotification, NotificationRun, TextMessage
from escalation.runs.lifecycle import incident_change_status
from escalation.runs.services import notification_start
from escalation.sms.inbound import InboundText, sms_received
from incidents.authorizations import authorization_record
from incidents.models import ActionStatus, Authorization, Channel, Incident, IncidentStatus, ResponseAction
from incidents.selectors import authorization_text
from incidents.services import incident_reapply_policy
from mdrportal.celery import app
from mdrportal.core import task_names
from tenants.availability import Away
from tenants.availability_services import contact_availability_set
from tenants.models import ResponseMode, Role, Tier
from tenants.services import contact_update, tenant_update_settings
from tests.escalation_model_invariants import EscalationInvariants
from tests.escalation_model_phone import CARRIER, ModelPacer, ModelPhone
from tests.factories import make_analyst, make_incident, make_member, make_tenant, propose


class EscalationModel(EscalationInvariants, RuleBasedStateMachine):
    """One tenant and one incident per run of the machine; the database is shared, rows are scoped."""

    examples = 0
    steps = 0
    fallbacks = 0
    placed = 0
    text_acks = 0

    def __init__(self) -> None:
        super().__init__()
        type(self).examples += 1
        self.phone = ModelPhone(self)
        self.pacer = ModelPacer()
        self.messages: list[tuple[str, list[Any]]] = []
        self.fallback_seen = False
        self.away: set[int] = set()  # the contacts away (on holiday) now
        self.runs_seen: set[int] = set()

    # The outside world ----------------------------------------------------------------------------

    def deliver(self, name: str, args: list[Any]) -> None:
        """A worker runs the task the broker handed it, by its registered name."""
        if name == task_names.CALLS_DISPATCH:
            while (request := call_claim_next(self.phone.name)) is not None:
                call_place(request, self.phone)
            return
        app.tasks[name](*args)

    def step(self, action: Any) -> Any:
        """One thing happens; the messages it sends after commit reach the model broker."""
        type(self).steps += 1
        with TestCase.captureOnCommitCallbacks(execute=True):
            try:
                return action()
            except (ValidationError, LinkError):
                return None  # refused with a clear error, as a person would be told

    def send_task(self, name: str, args: list[Any] | None = None, **options: Any) -> None:
        self.messages.append((name, list(args or [])))

    # Setting up -----------------------------------------------------------------------------------

    @initialize(
        mode=st.sampled_from(["fallback", "fallback", "fallback", "collaborate", "authorize"]),
        contacts=st.integers(1, 3),
        tries=st.integers(1, 2),
        actions=st.integers(1, 2),
        quiet=st.booleans(),
        away=st.sets(st.integers(0, 2), max_size=3),
    )
    def setup(self, mode: str, contacts: int, tries: int, actions: int, quiet: bool, away: set[int]) -> None:
        self.quiet_customer = quiet
        self.tenant = make_tenant(
            tier=Tier.COMPLETE,
            mode=ResponseMode.AUTHORIZE if mode == "authorize" else ResponseMode.COLLABORATE,
            fallback=mode == "fallback",
            phones=contacts,
        )
        if tries > 1:
            tenant_update_settings(tenant=self.tenant, by=None, call_attempts_per_contact=tries)
        self.approver = make_member(self.tenant, Role.APPROVER)
        self.analyst = make_analyst(f"analyst-{self.tenant.pk}")
        # Every contact takes texts too: a reply of 1 is one more way of acknowledging.
        self.contacts = [
            contact_update(contact=c, by=None, channels=["voice", "sms", "email"])
            for c in self.tenant.contacts.order_by("call_order")
        ]
        for index in sorted(away):
            if index < len(self.contacts):
                self._set_away(self.contacts[index], True)
        self.incident = make_incident(self.tenant)
        codes = ["isolate_endpoint", "block_ip"][:actions]
        for code in codes:
            self.step(lambda code=code: propose(self.incident, code, target=f"t-{code}"))

    def teardown(self) -> None:
        # Later machines share the database: nothing of this one may be dialed or run after it.
        if not hasattr(self, "incident"):
            return
        incident_change_status(incident=self.incident, status=IncidentStatus.CLOSED, by=self.analyst)
        # The summary the close starts would go out through a later machine's sweeper.
        NotificationRun.objects.filter(incident=self.incident, state="active").update(state="canceled")
        calls = CallAttempt.objects.filter(run__incident=self.incident, outcome__in=["queued", "dialing"])
        calls.update(outcome="canceled", ended_at=timezone.now())
        EmailNotification.objects.filter(
            run__incident=self.incident, state__in=["claimed", "sending"]
        ).update(state="failed")
        TextMessage.objects.filter(incident=self.incident, state__in=["claimed", "sending"]).update(
            state="failed"
        )

    # The broker -----------------------------------------------------------------------------------

    @precondition(lambda self: self.messages)
    @rule(data=st.data())
    def a_worker_runs_a_message(self, data: st.DataObject) -> None:
        name, args = self.messages.pop(data.draw(st.integers(0, len(self.messages) - 1), label="message"))
        self.step(lambda: self.deliver(name, args))

    @precondition(lambda self: self.messages)
    @rule()
    def a_healthy_worker_drains_the_queue(self) -> None:
        for _ in range(50):
            if not self.messages:
                return
            name, args = self.messages.pop(0)
            self.step(lambda name=name, args=args: self.deliver(name, args))

    @precondition(lambda self: self.messages)
    @rule(data=st.data())
    def a_message_is_delivered_twice(self, data: st.DataObject) -> None:
        name, args = self.messages[data.draw(st.integers(0, len(self.messages) - 1), label="message")]
        self.step(lambda: self.deliver(name, args))

    @precondition(lambda self: self.messages)
    @rule(data=st.data())
    def a_message_is_lost(self, data: st.DataObject) -> None:
        self.messages.pop(data.draw(st.integers(0, len(self.messages) - 1), label="message"))

    @rule()
    def the_sweeper_runs(self) -> None:
        self.step(lambda: (app.tasks[task_names.ESCALATION_SWEEP](), app.tasks[task_names.ACTIONS_SWEEP]()))

    @rule(seconds=st.sampled_from([1, 5, 20, 45, 120, 400]))
    def time_passes(self, seconds: int) -> None:
        """Every clock the engine compares with now moves back: the same as now moving on."""
        back = timedelta(seconds=seconds)
        runs = NotificationRun.objects.filter(incident=self.incident)
        runs.update(next_step_at=F("next_step_at") - back, started_at=F("started_at") - back)
        calls = CallAttempt.objects.filter(run__incident=self.incident)
        calls.update(queued_at=F("queued_at") - back)
        calls.exclude(placed_at=None).update(placed_at=F("placed_at") - back)
        calls.exclude(ended_at=None).update(ended_at=F("ended_at") - back)
        actions = ResponseAction.objects.filter(incident=self.incident)
        actions.update(proposed_at=F("proposed_at") - back)
        actions.exclude(next_attempt_at=None).update(next_attempt_at=F("next_attempt_at") - back)
        Incident.objects.filter(pk=self.incident.pk).exclude(fallback_taken_at=None).update(
            fallback_taken_at=F("fallback_taken_at") - back
        )

    # The phone provider and its carrier -----------------------------------------------------------

    @rule(down=st.booleans())
    def the_provider_goes_down_or_recovers(self, down: bool) -> None:
        self.phone.down = down

    def _carrier(self, sid: str, status: str, *, answered_by: str = "", delivered: bool = True) -> None:
        call = self.phone.calls[sid]
        if status == "in-progress":
            call.answered_by = answered_by
        call.status = status
        call.history.append(status)
        if delivered:
            self.step(
                lambda: call_update(attempt_id=call.attempt_id, status=status, answered_by=call.answered_by)
            )

    def _live(self) -> list[str]:
        return sorted(sid for sid, c in self.phone.calls.items() if c.status in CARRIER)

    @precondition(lambda self: any(c.status in CARRIER for c in self.phone.calls.values()))
    @rule(data=st.data())
    def the_carrier_moves_a_call_on(self, data: st.DataObject) -> None:
        sid = data.draw(st.sampled_from(self._live()), label="call")
        status = data.draw(st.sampled_from(CARRIER[self.phone.calls[sid].status]), label="status")
        answered_by = ""
        if status == "in-progress":
            answered_by = data.draw(st.sampled_from(["human", "machine_end_beep"]), label="answered_by")
        delivered = data.draw(st.sampled_from([True, True, True, False]), label="callback delivered")
        self._carrier(sid, status, answered_by=answered_by, delivered=delivered)

    @precondition(lambda self: any(c.status in ("queued", "ringing") for c in self.phone.calls.values()))
    @rule(data=st.data())
    def a_phone_rings_out_at_3_am(self, data: st.DataObject) -> None:
        """The common case at night: it rings, nobody answers."""
        sid = data.draw(
            st.sampled_from([s for s in self._live() if self.phone.calls[s].status != "in-progress"])
        )
        if self.phone.calls[sid].status == "queued":
            self._carrier(sid, "ringing")
        self._carrier(sid, "no-answer")

    @precondition(lambda self: any(c.history for c in self.phone.calls.values()))
    @rule(data=st.data())
    def a_callback_comes_again_or_late(self, data: st.DataObject) -> None:
        sid = data.draw(
            st.sampled_from(sorted(s for s, c in self.phone.calls.items() if c.history)), label="call"
        )
        call = self.phone.calls[sid]
        status = data.draw(st.sampled_from(call.history), label="old status")
        self.step(
            lambda: call_update(attempt_id=call.attempt_id, status=status, answered_by=call.answered_by)
        )

    @precondition(
        lambda self: any(
            c.status == "in-progress" and c.answered_by == "human" for c in self.phone.calls.values()
        )
    )
    @rule(data=st.data())
    def somebody_presses_1(self, data: st.DataObject) -> None:
        answered = sorted(
            s for s, c in self.phone.calls.items() if c.status == "in-progress" and c.answered_by == "human"
        )
        call = self.phone.calls[data.draw(st.sampled_from(answered), label="call")]
        self.step(lambda: call_update(attempt_id=call.attempt_id, digits="1"))

    # The customer and the analysts ----------------------------------------------------------------

    def an_approver_acknowledges_in_the_portal(self, data: st.DataObject) -> None:
        self.step(
            lambda: acknowledgment_record(incident=self.incident, channel=Channel.PORTAL, user=self.approver)
        )

    def a_contact_acknowledges_by_the_emailed_link(self, data: st.DataObject) -> None:
        contact = data.draw(st.sampled_from(self.contacts), label="contact")
        token = link_make(
            purpose=LinkPurpose.ACK,
            tenant_id=self.tenant.pk,
            contact_id=contact.pk,
            incident_id=self.incident.pk,
        )
        self.step(lambda: link_use(link=link_read(token), granted=True))

    def a_contact_replies_to_a_text(self, data: st.DataObject) -> None:
        """1 and the text's code (or a bare 1 or ACK, the number's one open alert) acknowledges; it never
        authorizes."""
        contact = data.draw(st.sampled_from(self.contacts), label="contact")
        body = data.draw(st.sampled_from(["1", " ack ", "1 <code>", "yes", "STOP", "START"]), label="reply")
        if body == "1 <code>":
            texted = TextMessage.objects.filter(incident=self.incident, contact=contact).exclude(
                reply_code=""
            )
            body = f"1 {texted.values_list('reply_code', flat=True).last() or '0000'}"
        acks = Acknowledgment.objects.filter(incident=self.incident, channel=Channel.SMS)
        before = acks.count()
        self.step(lambda: sms_received(InboundText(sender=contact.phone.as_e164, body=body, sid="SMmodel")))
        type(self).text_acks += acks.count() - before

    def an_approver_decides_in_writing(self, data: st.DataObject) -> None:
        granted = data.draw(st.booleans(), label="granted")

        def decide() -> None:
            waiting = list(self.incident.actions.filter(status=ActionStatus.AWAITING_AUTHORIZATION))
            if not waiting:
                return
            authorization_record(
                incident=self.incident,
                actions=waiting[:1],
                decision=Authorization.Decision.GRANTED if granted else Authorization.Decision.DECLINED,
                channel=Channel.PORTAL,
                user=self.approver,
                text_shown=authorization_text(self.incident, waiting[:1]),
            )

        self.step(decide)

    def _set_away(self, contact: Any, away: bool) -> None:
        # Long enough that no clock of the model reaches its end.
        now = timezone.now()
        periods = [Away(starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=30))] if away else []
        contact_availability_set(contact=contact, by=None, windows=[], away=periods)
        (self.away.add if away else self.away.discard)(contact.pk)

    def a_contact_goes_away_or_comes_back(self, data: st.DataObject) -> None:
        """A run under way keeps its plan; a run planned later (a round scheduled for later, when it comes
        due) sees the change."""
        contact = data.draw(st.sampled_from(self.contacts), label="contact")
        self.step(lambda: self._set_away(contact, contact.pk not in self.away))

    def an_analyst_starts_notification(self, data: st.DataObject) -> None:
        self.step(lambda: notification_start(incident=self.incident, by=self.analyst))

    def the_customer_changes_its_settings(self, data: st.DataObject) -> None:
        fallback = data.draw(st.booleans(), label="checkbox")
        self.step(lambda: tenant_update_settings(tenant=self.tenant, by=None, authorize_on_no_ack=fallback))

    def an_analyst_reapplies_the_policy(self, data: st.DataObject) -> None:
        self.step(lambda: incident_reapply_policy(incident=self.incident, by=self.analyst))

    def an_analyst_changes_the_status(self, data: st.DataObject) -> None:
        status = data.draw(
            st.sampled_from([IncidentStatus.CLOSED, IncidentStatus.RESOLVED, IncidentStatus.OPEN]),
            label="status",
        )
        self.step(lambda: incident_change_status(incident=self.incident, status=status, by=self.analyst))

    # Somebody having it ends the story of the fallback: a quiet customer (away at 3 a.m.) never does.
    ANYBODY = (
        an_analyst_starts_notification,
        the_customer_changes_its_settings,
        an_analyst_reapplies_the_policy,
        an_analyst_changes_the_status,
        a_contact_goes_away_or_comes_back,
    )
    CUSTOMER = (
        an_approver_acknowledges_in_the_portal,
        a_contact_acknowledges_by_the_emailed_link,
        a_contact_replies_to_a_text,
        an_approver_decides_in_writing,
    )

    @rule(data=st.data())
    def people_act(self, data: st.DataObject) -> None:
        choices = self.ANYBODY if self.quiet_customer else self.ANYBODY + self.CUSTOMER
        act = data.draw(st.sampled_from(choices), label="who acts")
        act(self, data)


def run_model(
    *, max_examples: int, stateful_step_count: int = 40, derandomize: bool = True
) -> dict[str, int]:
    """Run the machine with the engine's messages going to the model broker; returns the counts."""
    from unittest import mock

    from hypothesis import HealthCheck, settings
    from hypothesis.stateful import run_state_machine_as_test

    machine: list[EscalationModel] = []

    def factory() -> EscalationModel:
        machine[:] = [EscalationModel()]
        return machine[0]

    def send_task(name: str, args: list[Any] | None = None, **options: Any) -> None:
        machine[0].send_task(name, args, **options)

    def backend(*args: Any) -> ModelPhone:
        return machine[0].phone

    EscalationModel.examples = EscalationModel.steps = EscalationModel.fallbacks = EscalationModel.placed = 0
    EscalationModel.text_acks = 0
    options = settings(
        max_examples=max_examples,
        stateful_step_count=stateful_step_count,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=derandomize,
        database=None,
    )
    with (
        mock.patch.object(app, "send_task", send_task),
        mock.patch("escalation.calls.dispatch.phone_backend", backend),
        mock.patch("escalation.calls.dispatch.call_pacer", lambda: machine[0].pacer),
        mock.patch("escalation.calls.progress.phone_backend_named", backend),
    ):
        run_state_machine_as_test(factory, settings=options)
    return {
        "sequences": EscalationModel.examples,
        "steps": EscalationModel.steps,
        "calls placed": EscalationModel.placed,
        "fallbacks": EscalationModel.fallbacks,
        "acknowledgments by text": EscalationModel.text_acks,
    }
