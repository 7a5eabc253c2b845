"""The incidents app's nudges to later steps, by task name (see mdrportal.core.nudges)."""

from __future__ import annotations

from mdrportal.core import task_names
from mdrportal.core.nudges import nudge


def nudge_customer(incident_id: int) -> None:
    """After commit, see whether the customer must now be told something (DESIGN rule 12)."""
    nudge(task_names.CUSTOMER_TELL, incident_id)
