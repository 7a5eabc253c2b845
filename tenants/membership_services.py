"""Customer users' roles at a tenant (memberships) and new customer logins; every change is audited."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from mdrportal.core.users import User
from tenants.deciding import MEMBERSHIPS
from tenants.models import Membership, Role, Tenant
from tenants.services import Actor, deciding_writer_check, settings_audit


@transaction.atomic
def membership_set(*, tenant: Tenant, user: User, role: str, by: Actor) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": f"{role!r} is not one of {', '.join(Role.values)}."})
    deciding_writer_check(by=by, tenant=tenant, operation=MEMBERSHIPS)
    membership = Membership.objects.filter(tenant=tenant, user=user).first()
    before = membership.role if membership else None
    if membership is None:
        membership = Membership.objects.create(tenant=tenant, user=user, role=role)
    elif membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    if before != role:
        settings_audit(
            tenant=tenant, by=by, field="membership", subject=user.get_username(), before=before, after=role
        )
    return membership


@transaction.atomic
def membership_remove(*, tenant: Tenant, user: User, by: Actor) -> None:
    deciding_writer_check(by=by, tenant=tenant, operation=MEMBERSHIPS)
    membership = Membership.objects.filter(tenant=tenant, user=user).first()
    if membership is None:
        return
    membership.delete()
    settings_audit(
        tenant=tenant,
        by=by,
        field="membership",
        subject=user.get_username(),
        before=membership.role,
        after=None,
    )


@transaction.atomic
def customer_login_create(
    *, tenant: Tenant, username: str, email: str, password: str, role: str, by: Actor
) -> Membership:
    """A new customer user with a role at the tenant; the password passes Django's validators."""
    deciding_writer_check(by=by, tenant=tenant, operation=MEMBERSHIPS)
    user = get_user_model()(username=username, email=email)
    errors: dict[str, list[str]] = {}
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        errors["password"] = error.messages
    if errors:
        raise ValidationError(errors)
    user.set_password(password)
    user.save()
    return membership_set(tenant=tenant, user=user, role=role, by=by)
