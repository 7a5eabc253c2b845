"""Every Celery task's name, in one place: the tasks register under these, and whatever sends, routes or
schedules one (nudges, the settings' routes and beat schedule, the worker's hooks) names it from here.

Tasks are sent by name, not imported (mdrportal.core.nudges), so that a lower app can ask for a later app's
step; a name is also what a message waiting in the broker carries, so changing one strands those messages.
"""

from __future__ import annotations

# incidents
ACTION_RUN = "incidents.action_run"
ACTIONS_SWEEP = "incidents.actions_sweep"

# escalation
RUN_ADVANCE = "escalation.run_advance"
CALLS_DISPATCH = "escalation.calls_dispatch"
CALL_DIAL = "escalation.call_dial"
CALL_CHECK = "escalation.call_check"
CALL_HANG_UP = "escalation.call_hang_up"
CUSTOMER_TELL = "escalation.customer_tell"
SEVERITY_NOTIFY = "escalation.severity_notify"
EMAIL_SEND = "escalation.email_send"
TEXT_SEND = "escalation.text_send"
ESCALATION_SWEEP = "escalation.escalation_sweep"
REMINDERS_SWEEP = "escalation.reminders_sweep"
REMINDER_SERIES_STEP = "escalation.reminder_series_step"
REMINDER_SEND = "escalation.reminder_send"

# reports
MONTHLY_REPORTS_SEND = "reports.monthly_reports_send"
REPORT_SEND_DELIVER = "reports.report_send_deliver"
