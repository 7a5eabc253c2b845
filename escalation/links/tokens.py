"""Signed, single-use email links: acknowledge an incident, or authorize (or decline) an exact set of actions.

A token is django.core.signing data under a salt of its own: purpose, tenant, contact, incident, the sorted
action ids it covers (authorize only) and a random nonce. It expires after settings.LINK_MAX_AGE_HOURS and
is used once: using it inserts its nonce into UsedLink in the same transaction as the decision it records,
so a decision that fails leaves the link usable and a second use (even a concurrent one) changes nothing.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypedDict

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse

from escalation.models import UsedLink
from incidents.models import ACTIVE_INCIDENT_STATUSES, ActionStatus, Incident, ResponseAction
from incidents.selectors import authorization_text
from tenants.models import Contact, Performer

SALT = "mdrportal.escalation.links.v1"


class LinkPurpose(enum.StrEnum):
    ACK = "ack"
    AUTHORIZE = "authorize"
    # A partner's contact acknowledges the one task the link names (its scope), never the incident.
    TASK_ACK = "task_ack"


class LinkIds(TypedDict):
    """Whom and what a link is for, as link_make and link_url take them by keyword."""

    tenant_id: int
    contact_id: int
    incident_id: int


# The purposes whose links name actions: the actions to authorize, or the partner's one task.
SCOPED = frozenset({LinkPurpose.AUTHORIZE, LinkPurpose.TASK_ACK})


class LinkError(Exception):
    """Why a link cannot be used. reason: expired, altered, used; and, once read: stale, refused."""

    MESSAGES = {
        "expired": "This link has expired.",
        "altered": "This link is not valid: it was altered or cut short.",
        "used": "This link has already been used.",
        "stale": "What this link was sent about has changed since.",
        "refused": "This decision cannot be recorded.",
        "closed": "This incident is resolved or closed: MDR Ops no longer takes decisions on it.",
    }

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in self.MESSAGES:
            raise ValueError(f"unknown link error reason {reason!r}")
        self.reason, self.detail = reason, detail
        super().__init__(f"{reason}: {detail or self.MESSAGES[reason]}")


@dataclass(frozen=True)
class Link:
    """What a genuine, unexpired, unused token says."""

    purpose: LinkPurpose
    tenant_id: int
    contact_id: int
    incident_id: int
    scope: tuple[int, ...]
    nonce: str


@dataclass(frozen=True)
class LinkTarget:
    """The rows a link acts on, read fresh, and the exact text an authorize link asks the contact to confirm."""

    link: Link
    incident: Incident
    contact: Contact
    actions: list[ResponseAction]
    text: str

    @property
    def digest(self) -> str:
        """Fingerprint of what the page showed, posted back so that a decision is on what was seen."""
        return text_digest(self.text)


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _payload(
    *, purpose: str, tenant_id: int, contact_id: int, incident_id: int, action_ids: Iterable[int]
) -> dict[str, Any]:
    purpose = LinkPurpose(purpose)
    scope = sorted({int(pk) for pk in action_ids})
    if purpose is LinkPurpose.AUTHORIZE and not scope:
        raise ValueError("an authorization link needs the actions it covers")
    if purpose is LinkPurpose.TASK_ACK and len(scope) != 1:
        raise ValueError("a task link names exactly one task")
    if purpose is LinkPurpose.ACK and scope:
        raise ValueError("an acknowledgment link covers no actions")
    return {
        "p": purpose.value,
        "t": int(tenant_id),
        "c": int(contact_id),
        "i": int(incident_id),
        "s": scope,
        "n": secrets.token_urlsafe(16),
    }


def link_make(
    *, purpose: str, tenant_id: int, contact_id: int, incident_id: int, action_ids: Iterable[int] = ()
) -> str:
    """A signed token for one contact and one incident; a fresh nonce every time."""
    payload = _payload(
        purpose=purpose,
        tenant_id=tenant_id,
        contact_id=contact_id,
        incident_id=incident_id,
        action_ids=action_ids,
    )
    return signing.dumps(payload, salt=SALT)


def link_url(
    *, purpose: str, tenant_id: int, contact_id: int, incident_id: int, action_ids: Iterable[int] = ()
) -> str:
    """The absolute address of a new link, on PUBLIC_BASE_URL (never a request's Host header)."""
    token = link_make(
        purpose=purpose,
        tenant_id=tenant_id,
        contact_id=contact_id,
        incident_id=incident_id,
        action_ids=action_ids,
    )
    return settings.PUBLIC_BASE_URL + reverse("link", args=[token])


def _is_id(value: object) -> bool:
    return type(value) is int and value > 0


def link_read(token: str) -> Link:
    """Check a token: genuine, not expired, not used. Raises LinkError(expired | altered | used)."""
    try:
        data = signing.loads(token, salt=SALT, max_age=timedelta(hours=settings.LINK_MAX_AGE_HOURS))
    except signing.SignatureExpired:
        raise LinkError("expired") from None
    except (signing.BadSignature, ValueError, TypeError, UnicodeError):
        raise LinkError("altered") from None
    try:
        purpose = LinkPurpose(data["p"])
        scope = tuple(data["s"])
        link = Link(
            purpose=purpose,
            tenant_id=data["t"],
            contact_id=data["c"],
            incident_id=data["i"],
            scope=scope,
            nonce=data["n"],
        )
    except (KeyError, ValueError, TypeError):
        raise LinkError("altered") from None
    well_formed = (
        all(_is_id(v) for v in (link.tenant_id, link.contact_id, link.incident_id, *link.scope))
        and list(link.scope) == sorted(set(link.scope))
        and bool(link.scope) == (purpose in SCOPED)
        and (purpose is not LinkPurpose.TASK_ACK or len(link.scope) == 1)
        and isinstance(link.nonce, str)
        and 16 <= len(link.nonce) <= 64
    )
    if not well_formed:
        raise LinkError("altered")
    if UsedLink.objects.filter(nonce=link.nonce).exists():
        raise LinkError("used")
    return link


def link_consume(link: Link) -> None:
    """Mark the link used, inside the caller's transaction: it counts only if the caller's work commits."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("link_consume must run inside the transaction that records the decision")
    try:
        # A savepoint, so that the unique violation of a second use leaves the caller's transaction usable.
        with transaction.atomic():
            UsedLink.objects.create(nonce=link.nonce, purpose=link.purpose.value)
    except IntegrityError:
        raise LinkError("used") from None


def link_target(link: Link) -> LinkTarget:
    """The incident, contact and actions a link names, checked against each other as they are now.

    Raises LinkError("altered") when they do not belong together, LinkError("stale") when an action the link
    covers no longer awaits authorization.
    """
    incident = Incident.objects.select_related("tenant").filter(pk=link.incident_id).first()
    contact = Contact.objects.filter(pk=link.contact_id).first()
    if incident is None or contact is None or incident.tenant_id != link.tenant_id:
        raise LinkError("altered", "This link names an incident or a contact that does not exist.")
    if contact.tenant_id != incident.tenant_id and (
        contact.partner_id is None or contact.partner_id != incident.tenant.partner_id
    ):
        raise LinkError("altered", "This link names a contact of another customer.")
    if incident.status not in ACTIVE_INCIDENT_STATUSES:
        raise LinkError("closed", f"Incident #{incident.pk} is {incident.get_status_display().lower()}.")
    actions: list[ResponseAction] = []
    text = ""
    if link.purpose is LinkPurpose.AUTHORIZE:
        actions = list(
            ResponseAction.objects.filter(pk__in=link.scope, incident=incident)
            .select_related("action_type")
            .order_by("pk")
        )
        if len(actions) != len(link.scope):
            raise LinkError("altered", "This link names actions that are not part of this incident.")
        decided = [a for a in actions if a.status != ActionStatus.AWAITING_AUTHORIZATION]
        if decided:
            listed = "; ".join(f"{a} ({a.get_status_display().lower()})" for a in decided)
            raise LinkError("stale", f"These actions no longer await authorization: {listed}.")
        text = authorization_text(incident, actions)
    if link.purpose is LinkPurpose.TASK_ACK:
        actions = list(
            ResponseAction.objects.filter(pk__in=link.scope, incident=incident, performer=Performer.PARTNER)
        )
        if not actions or contact.partner_id is None:
            raise LinkError("altered", "This link names no task of this customer's partner.")
    return LinkTarget(link=link, incident=incident, contact=contact, actions=actions, text=text)
