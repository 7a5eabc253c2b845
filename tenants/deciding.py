"""What "deciding" is (DESIGN rule 13): the one list of the operations that decide for a customer, which
fields of a write make it deciding, who may perform each, and how a decision made under a customer's
delegation names its partner.

Every channel applies the list the same way: the pages (mdrportal.web.deciding) and the API
(mdrportal.api.deciding) refuse whom it refuses and ask for a fresh second factor (step-up) for a write it
calls deciding; the admin asks for one on the pages that write these; the services refuse a customer's or
partner's user that the list refuses again, whatever called them.

A partner's users (an MSP serving the customer) read the customer and work the partner's tasks; they decide
for the customer only what the customer delegated to the partner, and never change the delegation itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import models

from mdrportal.core.users import AnyUser
from tenants.models import Partner, PartnerMembership, Role, Tenant
from tenants.rules import role_allows, roles_allowed
from tenants.selectors import membership_at


class Delegation(models.TextChoices):
    """What a customer may hand to its partner's users."""

    DECISIONS = "decisions", "authorize, decline and acknowledge for the customer"
    SETTINGS = "settings", "manage the customer's settings"


# The tenant's field that says the customer delegated it.
DELEGATION_FIELDS = {
    Delegation.DECISIONS: "partner_decides",
    Delegation.SETTINGS: "partner_manages_settings",
}
# On the pages, a role above viewer is what a partner's user has only under this delegation.
DELEGATION_FOR_ROLE = {Role.APPROVER: Delegation.DECISIONS, Role.ADMIN: Delegation.SETTINGS}

WEB, API, ADMIN = "web", "api", "admin"


@dataclass(frozen=True)
class Operation:
    """One deciding operation: who may perform it, where, and which fields of a write make it deciding."""

    code: str
    what: str  # "Only ... may <what>."
    channels: frozenset[str]
    minimum: Role | None  # the customer role it needs; None: MDR staff only
    delegation: Delegation | None  # what lets a partner's user do it; None: never a partner's user
    staff_perm: str | None = None  # MDR staff with this permission may do it too
    fields: frozenset[str] = frozenset()  # a write decides when it changes one of these; empty: any write
    # Performed at a partner by its own people (`minimum` is their role there); it reaches only the
    # customers that delegated their settings to the partner, so no customer's delegation is asked.
    partner_level: bool = False

    def decides(self, changed: Iterable[str] | None = None) -> bool:
        """Whether a write changing these fields (None: not known) needs a fresh second factor."""
        return not self.fields or changed is None or bool(self.fields & set(changed))


def _op(code: str, what: str, channels: str, **kwargs: Any) -> Operation:
    return Operation(code, what, frozenset(channels.split()), **kwargs)


CONTACT_DECIDING_FIELDS = frozenset({"can_authorize", "phone", "email", "channels", "active"})

AUTHORIZE = _op(
    "authorize", "authorize actions", "web api", minimum=Role.APPROVER, delegation=Delegation.DECISIONS
)
DECLINE = _op("decline", "decline actions", "web api", minimum=Role.APPROVER, delegation=Delegation.DECISIONS)
ACKNOWLEDGE = _op(
    "acknowledge", "acknowledge incidents", "web api", minimum=Role.APPROVER, delegation=Delegation.DECISIONS
)
# An analyst records an authorization the customer gave in writing elsewhere (channel analyst_recorded).
AUTHORIZATION_RECORD = _op(
    "authorization_record",
    "record written authorizations",
    "admin",
    minimum=None,
    delegation=None,
    staff_perm="incidents.add_authorization",
)
# The other settings on the same write (ring time, reminders, time zone) need the role, not a step-up.
RESPONSE_POLICY = _op(
    "response_policy",
    "change the tenant's settings",
    "web api admin",
    minimum=Role.ADMIN,
    delegation=Delegation.SETTINGS,
    staff_perm="tenants.change_tenant",
    fields=frozenset({"response_mode", "authorize_on_no_ack"}),
)
PARTNER_DELEGATION = _op(
    "partner_delegation",
    "change what the partner may do for the tenant",
    "web api admin",
    minimum=Role.ADMIN,
    delegation=None,
    staff_perm="tenants.change_tenant",
)
PERFORMERS = _op(
    "performers",
    "choose performers",
    "web api admin",
    minimum=Role.ADMIN,
    delegation=Delegation.SETTINGS,
    staff_perm="tenants.change_actionperformer",
)
CONTACT_ADD = _op(
    "contact_add",
    "add contacts",
    "web api admin",
    minimum=Role.ADMIN,
    delegation=Delegation.SETTINGS,
    staff_perm="tenants.add_contact",
)
# The call order, the name and the hours need the role, not a step-up.
CONTACT_CHANGE = _op(
    "contact_change",
    "change contacts",
    "web api admin",
    minimum=Role.ADMIN,
    delegation=Delegation.SETTINGS,
    staff_perm="tenants.change_contact",
    fields=CONTACT_DECIDING_FIELDS,
)
PROTECTED_ASSETS = _op(
    "protected_assets",
    "change protected assets",
    "web api admin",
    minimum=Role.ADMIN,
    delegation=Delegation.SETTINGS,
    staff_perm="tenants.change_protectedtarget",
)
# A partner's default changes what may be done without asking at every customer that inherits it.
PARTNER_DEFAULTS = _op(
    "partner_defaults",
    "set the partner's defaults",
    "web api admin",
    minimum=Role.ADMIN,
    delegation=None,
    staff_perm="tenants.change_partner",
    partner_level=True,
)
MEMBERSHIPS = _op(
    "memberships",
    "create customer logins and change their roles",
    "api admin",
    minimum=None,
    delegation=None,
    staff_perm="tenants.add_membership",
)
CONNECTOR = _op(
    "connector",
    "set connectors",
    "api admin",
    minimum=None,
    delegation=None,
    staff_perm="incidents.change_connectorconfig",
)

DECIDING: dict[str, Operation] = {
    op.code: op
    for op in (
        AUTHORIZE,
        DECLINE,
        ACKNOWLEDGE,
        AUTHORIZATION_RECORD,
        RESPONSE_POLICY,
        PARTNER_DELEGATION,
        PERFORMERS,
        PROTECTED_ASSETS,
        CONTACT_ADD,
        CONTACT_CHANGE,
        PARTNER_DEFAULTS,
        MEMBERSHIPS,
        CONNECTOR,
    )
}


def is_mdr_staff(user: AnyUser, perm: str) -> bool:
    """An MDR analyst or lead whose groups grant this permission (the same ones the admin checks)."""
    return bool(user.is_authenticated and user.is_active and user.is_staff and user.has_perm(perm))


def delegated(tenant: Tenant, delegation: Delegation | None) -> bool:
    return (
        delegation is not None
        and tenant.partner_id is not None
        and getattr(tenant, DELEGATION_FIELDS[delegation])
    )


def role_allows_at(*, tenant: Tenant, role: Role | None, via_partner: bool, minimum: Role) -> bool:
    """Whether a role (held through the tenant's partner or not) allows `minimum` there: above a viewer,
    a partner's role counts only under the matching delegation."""
    if not role_allows(role, minimum):
        return False
    return not via_partner or minimum == Role.VIEWER or delegated(tenant, DELEGATION_FOR_ROLE[minimum])


def deciding_refusal(*, user: AnyUser, tenant: Tenant, operation: Operation) -> str | None:
    """Why the user may not perform the operation at the tenant, or None when it may."""
    if operation.staff_perm is not None and is_mdr_staff(user, operation.staff_perm):
        return None
    if operation.minimum is None:
        return f"Only MDR staff allowed to {operation.what} may do this."
    role, via_partner = membership_at(user, tenant)
    if not role_allows(role, operation.minimum):
        allowed = " and ".join(sorted(f"{r.value}s" for r in roles_allowed(operation.minimum)))
        return f"Only the tenant's {allowed} may {operation.what}."
    if via_partner and not delegated(tenant, operation.delegation):
        if operation.delegation is None:
            return f"A partner's users never {operation.what} for the customers they serve."
        return (
            f"{tenant.partner} (partner) may {operation.what} for {tenant} only once {tenant} delegates "
            f"it ({operation.delegation.label})."
        )
    return None


def partner_refusal(*, user: AnyUser, partner: Partner, operation: Operation) -> str | None:
    """Why the user may not perform a partner-level operation at the partner, or None when it may."""
    if operation.staff_perm is not None and is_mdr_staff(user, operation.staff_perm):
        return None
    role = (
        PartnerMembership.objects.filter(user=user, partner=partner).values_list("role", flat=True).first()
        if user.is_authenticated
        else None
    )
    if operation.minimum is None or not role_allows(role, operation.minimum):
        return f"Only {partner}'s admins may {operation.what}."
    return None


def acting_partner(user: AnyUser | None, tenant: Tenant) -> Partner | None:
    """The tenant's partner when the user acts for the tenant through it (no role of its own there)."""
    if user is None:
        return None
    _role, via_partner = membership_at(user, tenant)
    return tenant.partner if via_partner else None


def actor_label_at(user: AnyUser | None, tenant: Tenant) -> str:
    """Who did something at the tenant as the audit and the timeline name them: a partner's user with the
    partner, whose delegation it acted under."""
    if user is None:
        return "system"
    partner = acting_partner(user, tenant)
    name = user.get_username()
    return f"{name} ({partner} partner, under {tenant}'s delegation)" if partner is not None else name
