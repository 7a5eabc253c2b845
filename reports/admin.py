"""The monthly report's recipients (MDR leads set them with each customer) and the reports sent to each,
with the one explicit resend action."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from mdrportal.core.admin_readonly import ReadOnlyInline
from reports.models import ReportRecipient, ReportSend
from reports.periods import previous_month
from reports.services import report_resend


class ReportSendInline(ReadOnlyInline):
    model = ReportSend
    fields = ["period_start", "number", "outcome", "error", "requested_by", "claimed_at", "sent_at"]
    readonly_fields = fields


@admin.register(ReportRecipient)
class ReportRecipientAdmin(admin.ModelAdmin):
    list_display = ["email", "tenant", "partner", "active", "created_at"]
    list_filter = ["active"]
    list_select_related = ["tenant", "partner"]
    search_fields = ["email", "tenant__name", "partner__name"]
    autocomplete_fields = ["tenant", "partner"]
    inlines = [ReportSendInline]
    actions = ["resend_last_month"]

    @admin.action(description="Send last month's report again", permissions=["change"])
    def resend_last_month(self, request: HttpRequest, queryset: QuerySet[ReportRecipient]) -> None:
        period = previous_month(timezone.now().date())
        outcomes = [
            report_resend(
                recipient=recipient,
                period_start=period.start.date(),
                requested_by=request.user.get_username(),
            )
            for recipient in queryset.select_related("tenant", "partner")
        ]
        messages.info(request, f"{outcomes.count('sent')} of {len(outcomes)} reports sent again.")
