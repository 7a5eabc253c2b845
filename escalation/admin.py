"""Analysts follow notification runs in the admin: calls, emails, texts and acknowledgments, read-only."""

from __future__ import annotations

from django.contrib import admin

from escalation.models import Acknowledgment, CallAttempt, EmailNotification, NotificationRun, TextMessage
from mdrportal.core.admin_readonly import ReadOnlyAdminMixin, ReadOnlyInline

# Shown and read-only alike; tuples, as a list of names would be typed too narrowly for `fields`.
_CALL_FIELDS = (
    "sequence",
    "contact",
    "to",
    "try_number",
    "outcome",
    "provider_status",
    "answered_by",
    "placed_at",
)
_EMAIL_FIELDS = ("contact", "to", "kind", "state", "subject", "sent_at", "error")
_TEXT_FIELDS = ("contact", "to", "kind", "reply_code", "state", "provider_id", "sent_at", "error")


class CallInline(ReadOnlyInline):
    model = CallAttempt
    fields = _CALL_FIELDS
    readonly_fields = _CALL_FIELDS
    ordering = ["sequence", "id"]


class EmailInline(ReadOnlyInline):
    model = EmailNotification
    fields = _EMAIL_FIELDS
    readonly_fields = _EMAIL_FIELDS


class TextInline(ReadOnlyInline):
    model = TextMessage
    fields = _TEXT_FIELDS
    readonly_fields = _TEXT_FIELDS


@admin.register(NotificationRun)
class NotificationRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[NotificationRun]):
    list_display = ["id", "incident", "purpose", "round", "state", "next_step_at", "started_at"]
    list_filter = ["state", "purpose"]
    list_select_related = ["incident"]
    search_fields = ["incident__title", "incident__tenant__name"]
    inlines = [EmailInline, TextInline, CallInline]


@admin.register(Acknowledgment)
class AcknowledgmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Acknowledgment]):
    list_display = ["at", "incident", "channel", "contact", "user"]
    list_filter = ["channel"]
    list_select_related = ["incident", "contact", "user"]


from escalation import admin_reminders  # noqa: E402, F401 - registers the reminders' pages
