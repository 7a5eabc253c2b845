"""Who the request acts for: the current tenant (partner users choose it, kept in the session) and role checks.

A page either works on the current tenant (`tenant_page`) or on an object looked up among the user's
tenants, then entered with `enter()`. Another tenant's object is never looked up, so it is a 404; a role
too low is a 403; anonymous users go to the login page (login_required).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, TypeVar, cast

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Value, When
from django.http import HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from mdrportal.core.users import AnyUser, SignedInRequest
from mdrportal.web.reader_time_zone import activate_zone, reader_zones
from tenants.deciding import role_allows_at
from tenants.models import Role, Tenant
from tenants.rules import ADMINISTERS, DECIDES
from tenants.selectors import membership_at, tenants_for_user

SESSION_KEY = "acting_tenant_id"
NO_TENANT = "Your account does not give access to any customer. Ask your administrator for a role."


@dataclass(frozen=True)
class Acting:
    """The tenant a request acts for, the user's role there (and whether it is its partner's), and whether
    the user could pick another."""

    tenant: Tenant
    role: Role
    can_switch: bool
    via_partner: bool = False

    def allows(self, role: Role) -> bool:
        """Above a viewer, a partner's role counts only under the customer's delegation (tenants.deciding)."""
        return role_allows_at(tenant=self.tenant, role=self.role, via_partner=self.via_partner, minimum=role)

    @property
    def is_admin(self) -> bool:
        return self.allows(ADMINISTERS)

    @property
    def is_approver(self) -> bool:
        return self.allows(DECIDES)


class ActingRequest(SignedInRequest):
    """A page's request behind `tenant_page` (or after `enter()`): it acts for `acting`."""

    acting: Acting


def effective_role(user: AnyUser, tenant: Tenant) -> tuple[Role | None, bool]:
    """The user's role at the tenant and whether it is its partner's; MDR staff without a membership read
    what the customer reads."""
    role, via_partner = membership_at(user, tenant)
    if role is None and user.is_authenticated and user.is_active and user.is_staff:
        return Role.VIEWER, False
    return role, via_partner


def _activate(request: SignedInRequest, acting: Acting) -> ActingRequest:
    acting_request = cast(ActingRequest, request)  # the same request, which from here on carries `acting`
    acting_request.acting = acting
    own, _default = reader_zones(request)
    activate_zone(own or acting.tenant.timezone)  # the person's own choice first, else this tenant's
    return acting_request


def enter(request: SignedInRequest, tenant: Tenant, minimum: Role = Role.VIEWER) -> Acting:
    """Act for this tenant (one of the user's, already checked by the lookup), or 403 if the role is too low."""
    role, via_partner = effective_role(request.user, tenant)
    held = _check_role(tenant, role, via_partner, minimum)
    if request.session.get(SESSION_KEY) != tenant.pk:
        request.session[SESSION_KEY] = tenant.pk
    can_switch = tenants_for_user(request.user).exclude(pk=tenant.pk).exists()
    acting = Acting(tenant=tenant, role=held, can_switch=can_switch, via_partner=via_partner)
    _activate(request, acting)
    return acting


def _check_role(tenant: Tenant, role: Role | None, via_partner: bool, minimum: Role) -> Role:
    """The role, if it allows `minimum` at the tenant (no role allows nothing); else 403."""
    if role is None or not role_allows_at(tenant=tenant, role=role, via_partner=via_partner, minimum=minimum):
        raise PermissionDenied(f"This page needs the {minimum.label.lower()} role at {tenant.name}.")
    return role


def current_tenant(request: HttpRequest) -> tuple[Tenant | None, bool]:
    """The tenant chosen in the session, or the only one the user has; and whether there are several."""
    chosen = request.session.get(SESSION_KEY)
    # One query whatever the session holds: the chosen tenant first if it is still one of the user's.
    tenants = list(
        tenants_for_user(request.user)
        .annotate(chosen=Case(When(pk=chosen, then=Value(1)), default=Value(0)))
        .order_by("-chosen", "name", "pk")[:2]
    )
    several = len(tenants) > 1
    if tenants and (tenants[0].chosen or not several):
        return tenants[0], several
    return None, several


def choose(request: HttpRequest, tenant: Tenant) -> None:
    request.session[SESSION_KEY] = tenant.pk


P = ParamSpec("P")
R = TypeVar("R", bound=HttpResponseBase)


def portal_page(
    view: Callable[Concatenate[SignedInRequest, P], R],
) -> Callable[Concatenate[HttpRequest, P], R]:
    """A page for logged-in users; the tenant's time zone set by enter() ends with the request."""

    @functools.wraps(view)
    @login_required
    def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return view(cast(SignedInRequest, request), *args, **kwargs)  # login_required let it through
        finally:
            # The thread serves other requests next (the admin among them): no tenant's zone may linger.
            timezone.deactivate()

    return wrapper


def tenant_page(
    minimum: Role = Role.VIEWER,
) -> Callable[
    [Callable[Concatenate[ActingRequest, P], R]],
    Callable[Concatenate[HttpRequest, P], R | HttpResponseRedirect],
]:
    """A page about the current tenant: login first, then the tenant (or the chooser), then the role."""

    def decorator(
        view: Callable[Concatenate[ActingRequest, P], R],
    ) -> Callable[Concatenate[HttpRequest, P], R | HttpResponseRedirect]:
        @functools.wraps(view)
        @portal_page
        def wrapper(
            request: SignedInRequest, /, *args: P.args, **kwargs: P.kwargs
        ) -> R | HttpResponseRedirect:
            tenant, several = current_tenant(request)
            if tenant is None:
                if several:
                    chooser = reverse("tenants:choose")
                    return redirect(f"{chooser}?{urlencode({'next': request.get_full_path()})}")
                raise PermissionDenied(NO_TENANT)
            role, via_partner = effective_role(request.user, tenant)
            held = _check_role(tenant, role, via_partner, minimum)
            acting = Acting(tenant=tenant, role=held, can_switch=several, via_partner=via_partner)
            return view(_activate(request, acting), *args, **kwargs)

        return wrapper

    return decorator
