"""What a tenant chooses about its monthly report: who receives it, whether it goes at all, and a resend of
one period to one recipient. Customer admins (or the partner's, under the settings delegation) and MDR leads
change it; each change is on the tenant's settings history, each resend is a numbered send row.

A resend is claimed here, in the transaction, and leaves from a worker once it commits (reports.tasks); the
hourly beat delivers a resend whose nudge was lost, and never asks for one itself.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Max
from django.utils import timezone

from mdrportal.core import task_names
from mdrportal.core.nudges import nudge
from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import AnyUser, User
from reports.models import MonthlyReport, ReportRecipient, ReportSend
from reports.periods import month_of
from tenants.deciding import Delegation, Operation, actor_label_at, deciding_refusal
from tenants.models import Role, Tenant
from tenants.services import deciding_writer_check, settings_audit

# Who may choose the recipients, turn the email off and resend: not a decision for the customer (no
# second factor asked), but the same people as its other settings.
REPORT_RECIPIENTS = Operation(
    code="report_recipients",
    what="choose who receives the monthly report",
    channels=frozenset({"web", "api", "admin"}),
    minimum=Role.ADMIN,
    delegation=Delegation.SETTINGS,
    staff_perm="reports.change_reportrecipient",
)
RECIPIENT_FIELD = "report_recipient"
SWITCH_FIELD = "monthly_report"


def recipients_refusal(*, user: AnyUser, tenant: Tenant) -> str | None:
    """Why the user may not change the tenant's monthly report, or None when it may."""
    return deciding_refusal(user=user, tenant=tenant, operation=REPORT_RECIPIENTS)


def monthly_report_enabled(tenant: Tenant) -> bool:
    setting = MonthlyReport.objects.filter(tenant=tenant).first()
    return setting is None or setting.enabled


def _lock(tenant: Tenant) -> None:
    # One writer of the tenant's settings at a time (tenants.services does the same).
    Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)


@retried_atomic
def report_recipient_add(*, tenant: Tenant, by: User | None, email: str) -> ReportRecipient:
    """Send the tenant's monthly report to this address too (again, if it was removed)."""
    deciding_writer_check(by=by, tenant=tenant, operation=REPORT_RECIPIENTS)
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": f"{email!r} is not an email address."}) from None
    _lock(tenant)
    recipient = ReportRecipient.objects.filter(tenant=tenant, email__iexact=email).first()
    if recipient is not None and recipient.active:
        raise ValidationError({"email": f"{recipient.email} receives the monthly report already."})
    if recipient is None:
        recipient = ReportRecipient.objects.create(tenant=tenant, email=email)
    else:
        recipient.active, recipient.active_since = True, timezone.now()
        recipient.save(update_fields=["active", "active_since"])
    settings_audit(
        tenant=tenant, by=by, field=RECIPIENT_FIELD, subject=recipient.email, before=None, after=True
    )
    return recipient


@retried_atomic
def report_recipient_remove(*, recipient: ReportRecipient, by: User | None) -> None:
    """The tenant's address receives no more monthly report; what was sent to it stays on record."""
    tenant = recipient.tenant
    if tenant is None:
        raise ValueError(f"{recipient} is a partner's recipient: those are changed in the admin.")
    deciding_writer_check(by=by, tenant=tenant, operation=REPORT_RECIPIENTS)
    _lock(tenant)
    if ReportRecipient.objects.filter(pk=recipient.pk, active=True).update(active=False):
        settings_audit(
            tenant=tenant, by=by, field=RECIPIENT_FIELD, subject=recipient.email, before=True, after=None
        )
    recipient.active = False


@retried_atomic
def monthly_report_switch(*, tenant: Tenant, by: User | None, enabled: bool) -> MonthlyReport:
    """Turn the tenant's monthly email off or on; on again, it sends the periods due from now on."""
    deciding_writer_check(by=by, tenant=tenant, operation=REPORT_RECIPIENTS)
    _lock(tenant)
    setting, _ = MonthlyReport.objects.get_or_create(tenant=tenant)
    if setting.enabled != enabled:
        setting.enabled, setting.changed_at = enabled, timezone.now()
        setting.save(update_fields=["enabled", "changed_at"])
        settings_audit(tenant=tenant, by=by, field=SWITCH_FIELD, before=not enabled, after=enabled)
    return setting


def resend_period_check(period_start: date) -> None:
    """A resend is of a whole month that has ended."""
    period = month_of(period_start)
    if period_start.day != 1 or period.end.date() > timezone.now().date():
        raise ValidationError({"period": "Choose a month that has ended."})


def _requester_label(by: User | None, tenant: Tenant | None) -> str:
    """Who asked for a resend, as the send row names them; nobody is the system, as on the audit."""
    if tenant is not None:
        return actor_label_at(by, tenant)
    return "system" if by is None else by.get_username()


@retried_atomic
def report_resend_request(*, recipient: ReportRecipient, period_start: date, by: User | None) -> ReportSend:
    """Send one period's report to one recipient once more: claimed and numbered here, sent by a worker
    once this commits."""
    tenant = recipient.tenant
    if tenant is not None:
        deciding_writer_check(by=by, tenant=tenant, operation=REPORT_RECIPIENTS)
    resend_period_check(period_start)
    # The recipient's lock numbers two resends asked at once one after the other.
    ReportRecipient.objects.select_for_update(no_key=True).get(pk=recipient.pk)
    last = recipient.sends.filter(period_start=period_start).aggregate(n=Max("number"))["n"] or 0
    send = ReportSend.objects.create(
        recipient=recipient,
        period_start=period_start,
        number=last + 1,
        requested_by=_requester_label(by, tenant)[:150],
    )
    nudge(task_names.REPORT_SEND_DELIVER, send.pk)
    return send
