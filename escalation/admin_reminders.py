"""Reminder series and the reminders sent, read-only: MDR Ops sees whom was reminded of what, and when."""

from __future__ import annotations

from django.contrib import admin

from escalation.reminders.models import Reminder, ReminderSeries
from mdrportal.core.admin_readonly import ReadOnlyAdminMixin, ReadOnlyInline

# Shown and read-only alike; a tuple, as a list of names would be typed too narrowly for `fields`.
_REMINDER_FIELDS = ("number", "contact", "channel", "to", "state", "subject", "error", "sent_at")


class ReminderInline(ReadOnlyInline):
    model = Reminder
    fields = _REMINDER_FIELDS
    readonly_fields = _REMINDER_FIELDS


@admin.register(ReminderSeries)
class ReminderSeriesAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ReminderSeries]):
    list_display = ["id", "incident", "kind", "state", "sent", "started_at", "next_at", "ended_at"]
    list_filter = ["state", "kind"]
    list_select_related = ["incident"]
    search_fields = ["incident__title"]
    inlines = [ReminderInline]
