"""The settings page's history and the names of the settings it shows: each change as the reader reads it."""

from __future__ import annotations

from typing import Any

from tenants.models import SettingsChange, Tenant
from tenants.partner_default_models import performer_code
from tenants.selectors import settings_change_shown, settings_history

HISTORY_ROWS = 50


def history_rows(tenant: Tenant, action_names: dict[str, str], *, mdr_staff: bool) -> list[dict[str, Any]]:
    rows = []
    for change in settings_history(tenant)[:HISTORY_ROWS]:
        before, after = settings_change_shown(change, mdr_staff=mdr_staff)
        rows.append(
            {
                "change": change,
                "what": _field_label(change, action_names),
                "before": _readable(before),
                "after": _readable(after),
            }
        )
    return rows


_FIELD_LABELS = {
    "response_mode": "Response mode",
    "authorize_on_no_ack": "No-acknowledgment fallback",
    "call_attempts_per_contact": "Calls to each contact",
    "ring_timeout_seconds": "Ring time (s)",
    "timezone": "Time zone",
    "reminder_minutes": "Minutes between reminders",
    "reminder_count": "Reminders before flagging",
    "call_order": "Call order",
    "contact": "Contact",
    "performer": "Performer",
    "membership": "User role",
    "connector": "Endpoint platform connector",
    "created": "Customer created",
    "tier": "Tier",
    "partner": "Partner",
    "name": "Name",
    "test_call": "Test call",
    "availability": "Availability",
    "partner_delegation": "What the partner may do",
    "protected": "Protected",
    "inherits": "Back to the partner's default",
    "report_recipient": "Monthly report recipient",
    "monthly_report": "Monthly report email",
}


def source_label(field: str, action_names: dict[str, str]) -> str:
    code = performer_code(field)
    if code is not None:
        return f"Performer: {action_names.get(code, code)}"
    return _FIELD_LABELS.get(field, field)


def _field_label(change: SettingsChange, action_names: dict[str, str]) -> str:
    label = _FIELD_LABELS.get(change.field, change.field.replace("_", " ").capitalize())
    subject = (
        action_names.get(change.subject, change.subject) if change.field == "performer" else change.subject
    )
    return f"{label}: {subject}" if subject else label


def _readable(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return " → ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')}: {_readable(v)}" for k, v in value.items())
    return str(value)
