"""What a reminder says it is about, the same in an email and a text."""

from __future__ import annotations

from escalation.reminders.models import ReminderKind

_HEADLINES: dict[str, str] = {
    ReminderKind.AUTHORIZATION: "{n} action{s} still await{v} your written authorization.",
    ReminderKind.CUSTOMER_TASK: "{n} task{s} recommended to your team still wait{v} for you to say whether "
    "{it} {was} done.",
    ReminderKind.PARTNER_TASK: "{n} task{s} delegated to you by {tenant} still wait{v} for you to say "
    "whether {it} {was} done.",
}


def reminder_headline(kind: str, count: int, tenant_name: str) -> str:
    one = count == 1
    return _HEADLINES[kind].format(
        n=count,
        s="" if one else "s",
        v="s" if one else "",
        it="it" if one else "they",
        was="was" if one else "were",
        tenant=tenant_name,
    )
