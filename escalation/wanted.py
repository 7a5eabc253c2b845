"""Whether anyone still wants a call: the two rules every path reads, each in Python and as its SQL twin.

"Someone has it": an acknowledgment or a written decision on the incident, ever, by any channel (DESIGN
rule 6): no fallback, and the customer's tree phones nobody more. "A call is still wanted": its run runs,
its incident is active (rule 11), and, unless the run reaches the partner's own people about its task (whom
the customer's acknowledgment neither stops nor reads), nobody has it. The claims of queued calls read the
SQL forms in one statement (escalation.calls.claim_first); a test holds each pair to the same answers.
"""

from __future__ import annotations

from escalation.models import PARTNER_PURPOSES, Acknowledgment, NotificationRun, RunState
from incidents.models import ACTIVE_INCIDENT_STATUSES, Authorization, Incident

RUNS, INCIDENTS = NotificationRun._meta.db_table, Incident._meta.db_table
ACKS, DECISIONS = Acknowledgment._meta.db_table, Authorization._meta.db_table
_ACTIVE = ", ".join(f"'{status}'" for status in sorted(ACTIVE_INCIDENT_STATUSES))
_PARTNER = ", ".join(f"'{purpose}'" for purpose in sorted(PARTNER_PURPOSES))


def someone_has_it(incident: Incident) -> bool:
    """An acknowledgment or a written decision on the incident, ever, by any channel: no fallback."""
    return Acknowledgment.objects.filter(incident=incident).exists() or incident.authorizations.exists()


def someone_has_it_sql(incident_id: str) -> str:
    """someone_has_it as SQL, about the incident whose id is the expression `incident_id`."""
    return (
        f"(EXISTS (SELECT 1 FROM {ACKS} a WHERE a.incident_id = {incident_id})"
        f" OR EXISTS (SELECT 1 FROM {DECISIONS} d WHERE d.incident_id = {incident_id}))"
    )


def call_still_wanted(run: NotificationRun, incident: Incident) -> bool:
    """A call of this run may still go: the run runs, the incident is active and nobody has it (a partner
    task's run reads only its own state, which the partner's acknowledgment stops)."""
    if run.state != RunState.ACTIVE or incident.status not in ACTIVE_INCIDENT_STATUSES:
        return False
    return run.purpose in PARTNER_PURPOSES or not someone_has_it(incident)


def call_still_wanted_sql(call: str) -> str:
    """call_still_wanted as SQL, about the run of the call (a table or alias) `call`."""
    return f"""
EXISTS (
  SELECT 1 FROM {RUNS} r JOIN {INCIDENTS} i ON i.id = r.incident_id
  WHERE r.id = {call}.run_id AND r.state = '{RunState.ACTIVE}' AND i.status IN ({_ACTIVE})
    AND (r.purpose IN ({_PARTNER}) OR NOT {someone_has_it_sql("r.incident_id")})
)"""
