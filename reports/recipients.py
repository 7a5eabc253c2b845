"""What a tenant chooses about its monthly report: who receives it, whether it goes at all, and a resend of
one period to one recipient. Customer admins (or the partner's, under the settings delegation) and MDR leads
change it; each change is on the tenant's settings history, each resend is a numbered send row.

A partner chooses who receives the roll-up of its customers the same way: its admins (and MDR staff) add,
remove and resend; each change is on the settings history of every customer the roll-up covers, as a
partner's defaults are on the history of each customer they reach.

A resend is claimed here, in the transaction, and leaves from a worker once it commits (reports.tasks); the
hourly beat delivers a resend whose nudge was lost, and never asks for one itself.
"""

from __future__ import annotations

from datetime import date

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db.models import Max
from django.utils import timezone

from mdrportal.core import task_names
from mdrportal.core.nudges import nudge
from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import AnyUser, User
from reports.models import MonthlyReport, ReportRecipient, ReportSend
from reports.periods import month_of
from tenants.deciding import Delegation, Operation, actor_label_at, deciding_refusal, partner_refusal
from tenants.models import Partner, PartnerMembership, Role, SettingsChange, Tenant
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
# The partner's roll-up: its own admins choose, as they set its defaults; it changes no customer's settings
# and decides nothing for one, so no second factor is asked (as for a tenant's recipients).
PARTNER_REPORT_RECIPIENTS = Operation(
    code="partner_report_recipients",
    what="choose who receives the monthly roll-up of its customers",
    channels=frozenset({"web", "api", "admin"}),
    minimum=Role.ADMIN,
    delegation=None,
    staff_perm="reports.change_reportrecipient",
    partner_level=True,
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


def _address(email: str) -> str:
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": f"{email!r} is not an email address."}) from None
    return email


def _address_active(
    email: str, *, already: str, tenant: Tenant | None = None, partner: Partner | None = None
) -> ReportRecipient:
    """The owner's recipient for the address, receiving from now on: a new one, or the removed one back (the
    months that end from now on, as for a new one). An address that receives already is a field error."""
    recipient = ReportRecipient.objects.filter(tenant=tenant, partner=partner, email__iexact=email).first()
    if recipient is None:
        return ReportRecipient.objects.create(tenant=tenant, partner=partner, email=email)
    if recipient.active:
        raise ValidationError({"email": f"{recipient.email} receives {already} already."})
    recipient.active, recipient.active_since = True, timezone.now()
    recipient.save(update_fields=["active", "active_since"])
    return recipient


@retried_atomic
def report_recipient_add(*, tenant: Tenant, by: User | None, email: str) -> ReportRecipient:
    """Send the tenant's monthly report to this address too (again, if it was removed)."""
    deciding_writer_check(by=by, tenant=tenant, operation=REPORT_RECIPIENTS)
    email = _address(email)
    _lock(tenant)
    recipient = _address_active(email, already="the monthly report", tenant=tenant)
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


def partner_recipients_refusal(*, user: AnyUser, partner: Partner) -> str | None:
    """Why the user may not change who receives the partner's roll-up, or None when it may: the partner's
    admins (the rule of its defaults) and MDR staff with the recipients' permission."""
    return partner_refusal(user=user, partner=partner, operation=PARTNER_REPORT_RECIPIENTS)


def _partner_writer_check(*, by: User | None, partner: Partner) -> None:
    """Refuse a user who is not the partner's admin, whoever called the service; MDR staff's rights are
    their Django permission, which the admin, the pages and the API check before calling (as
    tenants.services.deciding_writer_check leaves them); no user is the system itself."""
    if by is None or by.is_staff:
        return
    refused = partner_recipients_refusal(user=by, partner=partner)
    if refused is not None:
        raise PermissionDenied(refused)


def partner_actor_label(by: User | None, partner: Partner) -> str:
    """Who changed the partner's roll-up, as each customer's history names them: one of the partner's
    people with the partner (never "under the customer's delegation": the roll-up needs none)."""
    if by is None:
        return "system"
    name = by.get_username()
    member = not by.is_staff and PartnerMembership.objects.filter(user=by, partner=partner).exists()
    return f"{name} ({partner} partner)" if member else name


def _partner_audit(
    *, partner: Partner, by: User | None, email: str, before: bool | None, after: bool | None
) -> None:
    """On the settings history of each customer the roll-up covers: its figures go to this address (or no
    longer do)."""
    longest = SettingsChange._meta.get_field("subject").max_length or 200
    subject = f"{email} ({partner}'s roll-up of its customers)"
    if len(subject) > longest:
        subject = subject[: longest - 3] + "..."
    label = partner_actor_label(by, partner)[:150]
    SettingsChange.objects.bulk_create(
        SettingsChange(
            tenant=tenant,
            actor=by,
            actor_label=label,
            field=RECIPIENT_FIELD,
            subject=subject,
            before=before,
            after=after,
        )
        for tenant in Tenant.objects.filter(partner=partner).order_by("pk")
    )


@retried_atomic
def partner_report_recipient_add(*, partner: Partner, by: User | None, email: str) -> ReportRecipient:
    """Send the roll-up of the partner's customers to this address too (again, if it was removed): the
    months that end from now on."""
    _partner_writer_check(by=by, partner=partner)
    email = _address(email)
    Partner.objects.select_for_update(no_key=True).get(pk=partner.pk)
    recipient = _address_active(email, already=f"{partner}'s roll-up", partner=partner)
    _partner_audit(partner=partner, by=by, email=recipient.email, before=None, after=True)
    return recipient


@retried_atomic
def partner_report_recipient_remove(*, recipient: ReportRecipient, by: User | None) -> None:
    """The partner's address receives no more roll-up; what was sent to it stays on record."""
    partner = recipient.partner
    if partner is None:
        raise ValueError(f"{recipient} is a tenant's recipient: report_recipient_remove removes it.")
    _partner_writer_check(by=by, partner=partner)
    Partner.objects.select_for_update(no_key=True).get(pk=partner.pk)
    if ReportRecipient.objects.filter(pk=recipient.pk, active=True).update(active=False):
        _partner_audit(partner=partner, by=by, email=recipient.email, before=True, after=None)
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


def _requester_label(by: User | None, recipient: ReportRecipient) -> str:
    """Who asked for a resend, as the send row names them; nobody is the system, as on the audit."""
    if recipient.tenant is not None:
        return actor_label_at(by, recipient.tenant)
    assert recipient.partner is not None  # a recipient has its tenant or its partner (the model's constraint)
    return partner_actor_label(by, recipient.partner)


@retried_atomic
def report_resend_request(*, recipient: ReportRecipient, period_start: date, by: User | None) -> ReportSend:
    """Send one period's report to one recipient once more: claimed and numbered here, sent by a worker
    once this commits. A partner's roll-up is resent by its admins (and MDR staff), a tenant's report by
    whoever may change its recipients."""
    if recipient.tenant is not None:
        deciding_writer_check(by=by, tenant=recipient.tenant, operation=REPORT_RECIPIENTS)
    elif recipient.partner is not None:
        _partner_writer_check(by=by, partner=recipient.partner)
    resend_period_check(period_start)
    # The recipient's lock numbers two resends asked at once one after the other.
    ReportRecipient.objects.select_for_update(no_key=True).get(pk=recipient.pk)
    last = recipient.sends.filter(period_start=period_start).aggregate(n=Max("number"))["n"] or 0
    send = ReportSend.objects.create(
        recipient=recipient,
        period_start=period_start,
        number=last + 1,
        requested_by=_requester_label(by, recipient)[:150],
    )
    nudge(task_names.REPORT_SEND_DELIVER, send.pk)
    return send
