"""The monthly report's recipients (MDR leads set them with each customer) and the reports sent to each,
with the one explicit resend action."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from mdrportal.core.admin_readonly import ReadOnlyInline
from mdrportal.core.users import signed_in_user
from reports.models import ReportRecipient, ReportSend
from reports.periods import previous_month
from reports.recipient_forms import MonthField
from reports.recipients import report_resend_request, resend_period_check


class ResendActionForm(ActionForm):
    """The action bar's month for a resend; last month when left empty. Read by the action, which says what
    is wrong with it (the admin would only say "no action selected")."""

    period = forms.CharField(required=False, label="Month", widget=MonthField.widget)


SEND_FIELDS = ("period_start", "number", "state", "error", "requested_by", "claimed_at", "sent_at")


class ReportSendInline(ReadOnlyInline):
    model = ReportSend
    fields = SEND_FIELDS
    readonly_fields = SEND_FIELDS


@admin.register(ReportRecipient)
class ReportRecipientAdmin(admin.ModelAdmin[ReportRecipient]):
    list_display = ["email", "tenant", "partner", "active", "active_since"]
    list_filter = ["active"]
    readonly_fields = ["created_at", "active_since"]
    list_select_related = ["tenant", "partner"]
    search_fields = ["email", "tenant__name", "partner__name"]
    autocomplete_fields = ["tenant", "partner"]
    inlines = [ReportSendInline]
    actions = ["resend_last_month"]
    action_form = ResendActionForm

    def save_model(
        self, request: HttpRequest, obj: ReportRecipient, form: forms.ModelForm[ReportRecipient], change: bool
    ) -> None:
        if change and obj.active and "active" in form.changed_data:
            obj.active_since = timezone.now()  # added again: the months that end from now on
        super().save_model(request, obj, form, change)

    @admin.action(description="Send the month's report again (last month's if none)", permissions=["change"])
    def resend_last_month(self, request: HttpRequest, queryset: QuerySet[ReportRecipient]) -> None:
        try:
            period_start = MonthField(required=False).clean(request.POST.get("period", ""))
            period_start = period_start or previous_month(timezone.now().date()).start.date()
            resend_period_check(period_start)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return
        by = signed_in_user(request)
        # Through the outbox, as the recipients page and the API ask: a worker sends each after its commit.
        sends = [
            report_resend_request(recipient=recipient, period_start=period_start, by=by)
            for recipient in queryset.select_related("tenant", "partner")
        ]
        messages.info(
            request,
            f"{len(sends)} {'report' if len(sends) == 1 else 'reports'} of {period_start:%Y-%m} to send again: "
            "each send's state shows on its recipient's page.",
        )
