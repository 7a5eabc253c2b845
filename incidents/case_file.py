"""The living case file: MDR staff edit an incident's title, severity, summary, observed activity and
recommendations after it opened; each change is a timeline event with who, before and after."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Field

from incidents.locks import incident_lock
from incidents.models import SEVERITY_RANK, Channel, EventKind, Incident, Severity
from incidents.policy import PolicySnapshot
from incidents.timeline_writes import timeline_record
from mdrportal.core import task_names
from mdrportal.core.nudges import nudge
from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import User

# The fields of the case file, in the order the timeline reports their changes.
CASE_FILE_FIELDS = ("title", "severity", "summary", "observed_activity", "recommendations")


def severity_raised(before: str, after: str) -> bool:
    """A lower rank is more severe (critical is 0)."""
    return SEVERITY_RANK[after] < SEVERITY_RANK[before]


@retried_atomic
def incident_edit(*, incident: Incident, by: User, channel: str = Channel.ADMIN, **changes: Any) -> list[str]:
    """Change fields of the case file; returns the names of those that changed (one timeline event each).

    The customer's pages read the incident, so they show the new text at once.
    """
    unknown = set(changes) - set(CASE_FILE_FIELDS)
    if unknown:
        raise ValidationError(
            f"Not part of the case file: {', '.join(sorted(unknown))}.", code="not_case_file"
        )
    locked = incident_lock(incident.pk)
    before = {name: getattr(locked, name) for name in CASE_FILE_FIELDS}
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.full_clean(exclude=["policy"])
    changed = [name for name in CASE_FILE_FIELDS if name in changes and before[name] != changes[name]]
    if not changed:
        return []
    locked.save(update_fields=changed)
    for name in changed:
        field = Incident._meta.get_field(name)
        assert isinstance(field, Field)  # CASE_FILE_FIELDS are the incident's own columns
        label = field.verbose_name
        data: dict[str, Any] = {"field": name, "before": before[name], "after": changes[name]}
        if name == "severity":
            data["raised"] = severity_raised(before[name], changes[name])
            data["notifies"] = severity_starts_notification(locked, before[name], changes[name])
            summary = (
                f"Severity changed from {Severity(before[name]).label} to {Severity(changes[name]).label}"
            ) + ("; the customer's policy notifies at this severity" if data["notifies"] else "")
        elif name == "title":
            summary = f"Title changed from “{before[name]}” to “{changes[name]}”"
        else:
            summary = f"{str(label).capitalize()} updated"
        timeline_record(
            incident=locked, kind=EventKind.CASE_EDITED, summary=summary, by=by, channel=channel, data=data
        )
    for name in changed:
        setattr(incident, name, changes[name])
    return changed


def severity_starts_notification(incident: Incident, before: str | None, after: str) -> bool:
    """The policy notifies at the new severity and did not at the old one (None: a new incident): notification
    starts after commit, through escalation's one start (the event's `notifies` lets the sweeper find a lost
    nudge). A lowering never stops one."""
    snapshot = PolicySnapshot.read(incident)
    starts = snapshot.notifies_at(after) and (before is None or not snapshot.notifies_at(before))
    if starts:
        nudge(task_names.SEVERITY_NOTIFY, incident.pk)
    return starts
