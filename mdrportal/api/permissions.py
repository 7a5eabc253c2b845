"""Who may do what through the API: MDR staff by their Django permissions, customers by their role."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.request import Request

from mdrportal.core.users import AnyUser, User
from tenants.deciding import is_mdr_staff
from tenants.models import Role, Tenant
from tenants.rules import role_allows, roles_allowed
from tenants.selectors import role_at

__all__ = ["is_mdr_staff", "require_role", "require_staff", "signed_in_user"]


def signed_in_user(request: Request) -> User:
    """The person who sent the request. The API's default permission lets in a signed-in person, or an
    integration key only where a view names the method; a view that acts for a person asks here once it knows
    no key came, and anyone else (a key's principal, nobody) is refused."""
    user = request.user
    if isinstance(user, AnonymousUser):
        raise NotAuthenticated()
    return user


def require_staff(user: AnyUser, perm: str, what: str) -> None:
    if not is_mdr_staff(user, perm):
        raise PermissionDenied(f"Only MDR staff allowed to {what} may do this.")


def require_role(
    user: AnyUser, tenant: Tenant, minimum: Role, what: str, *, staff_perm: str | None = None
) -> None:
    """The user's role at the tenant allows `minimum` (tenants.rules), or the user is MDR staff with
    staff_perm (when given)."""
    if staff_perm is not None and is_mdr_staff(user, staff_perm):
        return
    if role_allows(role_at(user, tenant), minimum):
        return
    allowed = " or ".join(sorted(r.value for r in roles_allowed(minimum)))
    raise PermissionDenied(f"Only the tenant's {allowed} users may {what}.")
