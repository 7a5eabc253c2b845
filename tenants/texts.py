"""A contact's answer to texts: STOP records an opt-out on every contact with that number, START lifts it."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from tenants.models import Contact
from tenants.services import settings_audit

OPT_OUT_FIELD = "sms_opted_out_at"


@transaction.atomic
def contacts_texts_stop(*, number: str) -> list[Contact]:
    """The person at this number replied STOP: no text goes to any contact with it until START.

    The carrier and Twilio block our texts to the number from then on, whichever contact they are for.
    """
    now = timezone.now()
    changed = list(
        Contact.objects.select_for_update(no_key=True).filter(phone=number, sms_opted_out_at__isnull=True)
    )
    for contact in changed:
        contact.sms_opted_out_at = now
        contact.save(update_fields=[OPT_OUT_FIELD])
        _audit(contact, before=None, after=now.isoformat())
    return changed


@transaction.atomic
def contacts_texts_start(*, number: str) -> list[Contact]:
    """The person at this number replied START: texts go to its contacts again (those who chose SMS)."""
    changed = list(
        Contact.objects.select_for_update(no_key=True).filter(phone=number, sms_opted_out_at__isnull=False)
    )
    for contact in changed:
        before = contact.sms_opted_out_at.isoformat() if contact.sms_opted_out_at else None
        contact.sms_opted_out_at = None
        contact.save(update_fields=[OPT_OUT_FIELD])
        _audit(contact, before=before, after=None)
    return changed


def _audit(contact: Contact, *, before: str | None, after: str | None) -> None:
    if contact.tenant is not None:
        # By the contact, from their phone: no user of ours did it.
        settings_audit(
            tenant=contact.tenant,
            by=None,
            field=OPT_OUT_FIELD,
            subject=contact.name,
            before=before,
            after=after,
        )
