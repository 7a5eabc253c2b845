"""The second factor: TOTP (an authenticator app) with single-use recovery codes, on django-otp's devices.

Who needs it: MDR staff, customer admins and approvers always; viewers unless every tenant they see has
relaxed it (`Tenant.viewers_need_second_factor`); a user with no role at all too (nothing to relax it).
A session is verified once a code was accepted in it; the time of that check is kept in the session, and
deciding (the operations listed in tenants.deciding, in the portal and the admin) needs one within the last
SECOND_FACTOR_STEP_UP_HOURS (step-up). Verifying cycles the session key.

The API's tokens (tenants/api_tokens.py) follow the same policy: whoever needs a second factor here needs a
code to get a token, and a token decides only within the same window after the code it was created with.
A reset of the second factor revokes every token and web session of the user.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Concatenate, ParamSpec, TypeVar

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from mdrportal.core.users import AnyUser, User
from tenants.api_tokens import user_credentials_revoke
from tenants.models import Membership, PartnerMembership, Role, Tenant

SESSION_KEY = "second_factor"
RECOVERY_CODES = 10
TOTP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"
NEEDED_MESSAGE = "This needs a second factor: sign in with a code from your authenticator app first."


def needs_second_factor(user: AnyUser) -> bool:
    """Whether this user must pass a second factor before using the portal, the admin or the API by session."""
    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    roles = set(Membership.objects.filter(user=user).values_list("role", flat=True))
    roles |= set(PartnerMembership.objects.filter(user=user).values_list("role", flat=True))
    if not roles or roles != {Role.VIEWER}:
        return True
    strict = Tenant.objects.filter(viewers_need_second_factor=True).filter(
        Q(memberships__user=user) | Q(partner__memberships__user=user)
    )
    return strict.exists()


def verified_at(request: HttpRequest) -> float | None:
    """When (epoch seconds) this session last passed a second factor, or None."""
    state = request.session.get(SESSION_KEY)
    if not isinstance(state, dict) or state.get("user") != request.user.pk:
        return None
    at = state.get("at")
    return float(at) if isinstance(at, int | float) else None


def is_verified(request: HttpRequest) -> bool:
    return verified_at(request) is not None


def is_fresh(request: HttpRequest) -> bool:
    """Whether the second factor was passed recently enough to decide (step-up)."""
    at = verified_at(request)
    window = timedelta(hours=settings.SECOND_FACTOR_STEP_UP_HOURS).total_seconds()
    return at is not None and time.time() - at <= window


def mark_verified(request: HttpRequest, device: Device) -> None:
    request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "user": request.user.pk,
        "device": device.persistent_id,
        "at": time.time(),
    }


def totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def enrolment_device(user: User) -> TOTPDevice:
    """The unconfirmed authenticator being set up (one per user): its secret stays until confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)


def second_factor_check(*, user: User, token: str) -> Device | None:
    """The user's device that accepts this code (a TOTP code, or an unused recovery code), or None.

    django-otp throttles repeated failures per device, refuses a TOTP code used before and uses a
    recovery code up.
    """
    token = "".join(token.split())
    if not token or len(token) > 32:
        return None
    kind = TOTPDevice if token.isdigit() and len(token) == 6 else StaticDevice
    with transaction.atomic():
        device = kind.objects.select_for_update(no_key=True).filter(user=user, confirmed=True).first()
        if device is not None and device.verify_token(token):
            return device
    return None


@transaction.atomic
def second_factor_enrol(*, user: User, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm the authenticator with a code from it; returns fresh recovery codes, or None if refused."""
    device = TOTPDevice.objects.select_for_update(no_key=True).get(pk=device.pk, user=user, confirmed=False)
    if not device.verify_token("".join(token.split())):
        return None
    # One authenticator per user: confirming this one replaces any other.
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return recovery_codes_renew(user=user)


@transaction.atomic
def recovery_codes_renew(*, user: User) -> list[str]:
    """A new set of single-use recovery codes; the old ones stop working."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


@transaction.atomic
def second_factor_reset(*, user: User) -> None:
    """Forget the user's authenticator and recovery codes (a lost phone): the next sign-in enrols again.

    Whatever the lost device opened ends too: every API token and web session of the user (a session left
    signed in could otherwise enrol an authenticator of its own).
    """
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    user_credentials_revoke(user=user, reason="second factor reset")


def second_factor_url(next_url: str, *, step_up: bool = False) -> str:
    query = {"next": next_url, **({"step_up": "1"} if step_up else {})}
    return f"{reverse('second_factor')}?{urlencode(query)}"


P = ParamSpec("P")
R = TypeVar("R", bound=HttpResponseBase)


def step_up_redirect(request: HttpRequest, back: str) -> HttpResponse | None:
    """For a request that decides something: None if the second factor was passed within the window,
    else the way to the check. The request is not applied: the person confirms with a code, lands back on
    the page named `back` (a URL name, or a path) and submits again."""
    if is_fresh(request):
        return None
    return redirect(second_factor_url(back if back.startswith("/") else reverse(back), step_up=True))


def step_up_required(
    back: str,
) -> Callable[
    [Callable[Concatenate[HttpRequest, P], R]], Callable[Concatenate[HttpRequest, P], R | HttpResponse]
]:
    """A view whose every write decides something (see step_up_redirect); reads pass."""

    def decorator(
        view: Callable[Concatenate[HttpRequest, P], R],
    ) -> Callable[Concatenate[HttpRequest, P], R | HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> R | HttpResponse:
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                refused = step_up_redirect(request, back)
                if refused is not None:
                    return refused
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


class SecondFactorMiddleware:
    """Keeps a signed-in user who needs a second factor and has not passed one out of everything but the
    sign-in, second-factor, emailed-link and webhook pages: pages redirect to the check (or enrolment), the
    API answers 403."""

    OPEN_PREFIXES = ("/l/", "/twilio/", "/api/v1/auth/token/", "/admin/login/", "/admin/logout/")

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def _open(self, path: str) -> bool:
        named = (reverse("login"), reverse("logout"), reverse("second_factor"))
        return (
            path in named
            or path.startswith(self.OPEN_PREFIXES)
            or path.startswith("/" + settings.STATIC_URL.lstrip("/"))
        )

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            user.is_authenticated
            and not self._open(request.path)
            and not is_verified(request)
            and needs_second_factor(user)
        ):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": NEEDED_MESSAGE}, status=403)
            return redirect(second_factor_url(request.get_full_path()))
        return self.get_response(request)
