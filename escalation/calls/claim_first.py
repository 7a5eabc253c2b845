"""The claims of queued calls, as hand-written statements: the call that goes first, and the most urgent call
that may still go.

They are on the path of every call placed: built by the ORM, a claim took about 6 ms of Python on a 2-core
host for under a millisecond in the database, more than the rest of the path to the provider, and the
dispatcher's claim through the ORM (about 8 statements under the incident's lock) made it late for its slot.
The order is the dispatcher's (escalation.calls.dispatch.ORDER): severity, then a call's place in its run,
then the time it was queued, then its id. Whether a call is still wanted is escalation.wanted's rule.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.db.backends.utils import CursorWrapper

from escalation.models import CallAttempt, CallOutcome, NotificationRun, RunState
from escalation.wanted import call_still_wanted_sql
from tenants.models import Contact, Tenant

CALLS, RUNS = CallAttempt._meta.db_table, NotificationRun._meta.db_table
CONTACTS, TENANTS = Contact._meta.db_table, Tenant._meta.db_table


def _first(place: str) -> str:
    """No call goes before the one at `place` (its rank, sequence, queued time and id, as SQL): waiting (of
    an active run, or a test call), or claimed and not placed yet. One parameter: the claims' window."""
    return f"""
NOT EXISTS (
  SELECT 1 FROM {CALLS} o LEFT JOIN {RUNS} orun ON orun.id = o.run_id
  WHERE ((o.outcome = '{CallOutcome.QUEUED}' AND (o.run_id IS NULL OR orun.state = '{RunState.ACTIVE}'))
         OR (o.outcome = '{CallOutcome.DIALING}' AND o.provider_sid = '' AND o.placed_at >= %s))
    AND (o.severity_rank, o.sequence, o.queued_at, o.id) < {place}
)"""


# What a claim gives back: the call's id, its number and how long it rings (its run's, or for a test call its
# tenant's, ring timeout).
_CLAIMED = f"""
RETURNING id, "to", COALESCE(
  (SELECT r.ring_timeout_seconds FROM {RUNS} r WHERE r.id = {CALLS}.run_id),
  (SELECT t.ring_timeout_seconds FROM {CONTACTS} k JOIN {TENANTS} t ON t.id = k.tenant_id
   WHERE k.id = {CALLS}.contact_id)
)"""

Claimed = tuple[int, str, int]
# A run's queued call (a step queues one at a time; the earliest, should there be more).
_QUEUED_OF_RUN = (
    f"(SELECT q.id FROM {CALLS} q WHERE q.run_id = %s AND q.outcome = '{CallOutcome.QUEUED}' "
    "ORDER BY q.id LIMIT 1)"
)


def _claimed(cursor: CursorWrapper) -> Claimed | None:
    row = cursor.fetchone()
    return None if row is None else (row[0], row[1], row[2])


def claim_if_first(
    *,
    call: int | None = None,
    run: int | None = None,
    backend: str,
    now: datetime,
    claimed_since: datetime,
    still_wanted: bool,
) -> Claimed | None:
    """Mark dialing the queued call with id `call` (or the queued call of run `run`) if it goes first (and,
    with `still_wanted`, its run and incident still want it); its id, number and ring timeout."""
    adapt = connection.ops.adapt_datetimefield_value
    own = f"({CALLS}.severity_rank, {CALLS}.sequence, {CALLS}.queued_at, {CALLS}.id)"
    sql = (
        f"UPDATE {CALLS} SET outcome = %s, placed_at = %s, backend = %s "
        f"WHERE id = {'%s' if call is not None else _QUEUED_OF_RUN} AND outcome = '{CallOutcome.QUEUED}' "
        f"AND {_first(own)}" + (f" AND {call_still_wanted_sql(CALLS)}" if still_wanted else "") + _CLAIMED
    )
    which = call if call is not None else run
    params = [CallOutcome.DIALING.value, adapt(now), backend, which, adapt(claimed_since)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return _claimed(cursor)


def goes_first(attempt_id: int, *, claimed_since: datetime) -> bool:
    """No call waiting, or claimed elsewhere and not placed yet, goes before this one."""
    own = "(me.severity_rank, me.sequence, me.queued_at, me.id)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {CALLS} me WHERE me.id = %s AND {_first(own)}",
            [attempt_id, connection.ops.adapt_datetimefield_value(claimed_since)],
        )
        return cursor.fetchone() is not None


def claim_most_urgent(*, backend: str, now: datetime) -> Claimed | None:
    """Mark dialing the most urgent queued call that may still go (a test call, or one whose run and incident
    still want it), passing over calls another worker has locked; its id, number and ring timeout."""
    adapt = connection.ops.adapt_datetimefield_value
    skip_locked = (
        " FOR NO KEY UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    )
    sql = f"""
UPDATE {CALLS} SET outcome = %s, placed_at = %s, backend = %s
WHERE outcome = '{CallOutcome.QUEUED}' AND id = (
  SELECT c.id FROM {CALLS} c
  WHERE c.outcome = '{CallOutcome.QUEUED}' AND (c.run_id IS NULL OR {call_still_wanted_sql("c")})
  ORDER BY c.severity_rank, c.sequence, c.queued_at, c.id LIMIT 1{skip_locked}
){_CLAIMED}"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [CallOutcome.DIALING.value, adapt(now), backend])
        return _claimed(cursor)
