"""What a call tells the run it belongs to. escalation.calls sits below escalation.runs and never imports it:
the runs register their side here when the app is ready (escalation.apps), and the calls report through it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured

from escalation.models import CallAttempt, NotificationRun
from incidents.models import Incident


@dataclass(frozen=True)
class RunSide:
    """The run's answers: a call of it ended (the run takes its next step), or a queued call of it is no
    longer wanted (escalation.wanted: the run stops, under the incident's lock its caller holds)."""

    call_ended: Callable[[CallAttempt], None]
    call_unwanted: Callable[[NotificationRun, Incident], None]


_registered: list[RunSide] = []


def run_side_register(side: RunSide) -> None:
    _registered[:] = [side]


def run_side() -> RunSide:
    if not _registered:
        raise ImproperlyConfigured("escalation.runs has not registered its side of the calls (app not ready)")
    return _registered[0]
