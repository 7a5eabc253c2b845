"""API views of a partner's monthly roll-up: who receives the report of all its customers, and a resend of
one month to one of them. The partner's people read them; its admins (and MDR staff allowed to change
recipients) change them, through reports.recipients, with the serializers of a tenant's recipients."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.request import Request

from mdrportal.api.recipient_views import RecipientResendView, RecipientsOf, RecipientsView, RecipientView
from mdrportal.core.users import User
from reports.models import ReportRecipient
from reports.recipients import (
    partner_recipients_refusal,
    partner_report_recipient_add,
    partner_report_recipient_remove,
)
from tenants.models import Partner
from tenants.partner_defaults import partner_of_user


class PartnerRecipients(RecipientsOf[Partner]):
    """A partner's roll-up recipients: its people and MDR staff read them (404 for anyone else); its admins and
    MDR staff allowed to change recipients change them."""

    def owner(self, request: Request, **kwargs: Any) -> Partner:
        partner, _ = partner_of_user(request.user, kwargs["slug"])
        if partner is None:
            raise Http404("No such partner.")
        return partner

    def refusal(self, request: Request, owner: Partner) -> str | None:
        return partner_recipients_refusal(user=request.user, partner=owner)

    def add(self, owner: Partner, *, by: User, email: str) -> ReportRecipient:
        return partner_report_recipient_add(partner=owner, by=by, email=email)

    def remove(self, recipient: ReportRecipient, *, by: User) -> None:
        partner_report_recipient_remove(recipient=recipient, by=by)


PARTNER = PartnerRecipients()


@extend_schema_view(
    get=extend_schema(summary="Who receives a partner's monthly roll-up (its people, MDR staff)"),
    post=extend_schema(
        summary="Send the partner's roll-up to this address too (its admins, MDR staff)",
        description="From the months that end after it is added (an address removed and added again too). "
        "On the settings history of every customer the roll-up covers.",
    ),
)
class PartnerReportRecipientsView(RecipientsView[Partner]):
    """Who receives the partner's monthly roll-up of its customers, and what was sent to each."""

    of = PARTNER


@extend_schema_view(
    delete=extend_schema(summary="Stop sending it the partner's roll-up (its admins, MDR staff)"),
)
class PartnerReportRecipientView(RecipientView[Partner]):
    """One recipient of the roll-up: removing it stops its report and keeps the record of what was sent."""

    of = PARTNER


@extend_schema_view(
    post=extend_schema(summary="Send a month's roll-up again to this recipient (its admins, MDR staff)"),
)
class PartnerReportRecipientResendView(RecipientResendView[Partner]):
    of = PARTNER
