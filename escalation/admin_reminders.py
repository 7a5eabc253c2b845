"""Reminder series and the reminders sent, read-only: MDR Ops sees whom was reminded of what, and when."""

from __future__ import annotations

from django.contrib import admin

from escalation.reminders.models import Reminder, ReminderSeries
from mdrportal.core.admin_readonly import ReadOnlyAdminMixin, ReadOnlyInline


class ReminderInline(ReadOnlyInline):
    model = Reminder
    fields = ["number", "contact", "channel", "to", "state", "subject", "error", "sent_at"]
    readonly_fields = fields


@admin.register(ReminderSeries)
class ReminderSeriesAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "incident", "kind", "state", "sent", "started_at", "next_at", "ended_at"]
    list_filter = ["state", "kind"]
    list_select_related = ["incident"]
    search_fields = ["incident__title"]
    inlines = [ReminderInline]
