from __future__ import annotations

from django.apps import AppConfig


class EscalationConfig(AppConfig):
    name = "escalation"
    verbose_name = "Escalation"

    def ready(self) -> None:
        from escalation import checks  # noqa: F401 - registers the start-up checks
        from escalation.runs.advance import calls_report_to_runs

        calls_report_to_runs()  # the calls, below the runs, report to them through this
