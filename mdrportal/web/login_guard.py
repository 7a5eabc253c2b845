"""Brute-force protection for sign-in, counted twice: per username and address, and per username alone.

- 5 failed attempts for one username from one address lock that pair for 15 minutes. An IPv6 address counts
  by its /64 (one subscriber's whole prefix), so that a client cannot take a fresh address per attempt.
- 10 failed attempts for one username from any addresses together lock the username everywhere for 15
  minutes; each further lock within a day of the last one lasts twice as long, up to 24 hours. Thirty
  addresses guessing together get as few passwords checked as one.

An attempt is counted before its password is checked, under locks on both rows (the username's first, then
the pair's), so concurrent attempts cannot outrun the limits: the attempt after them is refused unchecked,
the right password included. A success clears both counts (a username's run of locks is kept). The counts
live in the database (tenants.LoginThrottle, tenants.LoginUsernameThrottle), so every web process shares
them. The address is the client's as `TRUSTED_PROXY_COUNT` defines it (mdrportal/core/client_address.py).

The authentication backend enforces it, which covers every sign-in that passes a request (this portal's
login page, the admin's and the API's token endpoint); the login form turns a lockout into a clear message
saying until when. Every key is an HMAC: no typed-in username (often a password typed in the wrong box) is
stored.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from datetime import datetime, timedelta
from typing import Any

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from rest_framework.exceptions import APIException, Throttled
from rest_framework.request import Request

from mdrportal.core.client_address import client_address
from mdrportal.core.metrics import LOGIN_LOCKOUTS
from mdrportal.core.users import User
from tenants.models import LoginThrottle, LoginUsernameThrottle

logger = logging.getLogger(__name__)

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
USERNAME_MAX_FAILURES = 10
USERNAME_WINDOW = timedelta(hours=1)
USERNAME_LOCKOUT = timedelta(minutes=15)
USERNAME_LOCKOUT_MAX = timedelta(hours=24)
# A username whose last lock ended longer ago than this starts again from the shortest lock.
LOCKS_REMEMBERED = timedelta(hours=24)
IPV6_PREFIX = 64
LOCKED_MESSAGE = "Too many failed sign-ins for this username: sign-in is locked until {until}."
RETRY = " Try again then, or ask your MDR provider to unlock it."


def locked_message(until: datetime) -> str:
    local = timezone.localtime(until, timezone.get_fixed_timezone(0))
    return LOCKED_MESSAGE.format(until=f"{local:%Y-%m-%d %H:%M} UTC") + RETRY


def _normal(username: str) -> str:
    return username.strip().lower()


def address_group(address: str | None) -> str:
    """The address as the per-address count knows it: an IPv6 address by its /64, an IPv4 one as it is."""
    if not address:
        return ""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)


def username_key(username: str) -> str:
    return salted_hmac("mdrportal.web.login_guard.username", _normal(username)).hexdigest()


def throttle_key(username: str, address: str | None) -> str:
    return salted_hmac(
        "mdrportal.web.login_guard", f"{_normal(username)}|{address_group(address)}"
    ).hexdigest()


def lock_ends(username: str, address: str | None) -> datetime | None:
    """Until when sign-in is refused for this username from this address, or None if it is not."""
    now = timezone.now()
    ends = [
        *LoginThrottle.objects.filter(key=throttle_key(username, address), locked_until__gt=now).values_list(
            "locked_until", flat=True
        ),
        *LoginUsernameThrottle.objects.filter(
            username_key=username_key(username), locked_until__gt=now
        ).values_list("locked_until", flat=True),
    ]
    # locked_until__gt leaves out the rows without a lock.
    return max((end for end in ends if end is not None), default=None)


def lock_out(throttle: LoginThrottle, now: datetime) -> None:
    """The one place a username and address get locked out (metrics and alerts hook in here)."""
    throttle.locked_until = now + LOCKOUT
    LOGIN_LOCKOUTS.inc()
    logger.warning("Sign-in locked for %s after %s failed attempts", throttle.key[:12], throttle.failures)


def lock_out_username(throttle: LoginUsernameThrottle, now: datetime) -> None:
    """The one place a username gets locked out from every address: each lock in a row twice as long."""
    if throttle.locked_until is None or throttle.locked_until < now - LOCKS_REMEMBERED:
        throttle.locks = 0
    length = min(USERNAME_LOCKOUT * 2 ** min(throttle.locks, 16), USERNAME_LOCKOUT_MAX)
    throttle.locked_until = now + length
    throttle.locks = min(throttle.locks + 1, 100)
    # The count starts again when the lock ends.
    throttle.failures, throttle.window_started_at = 0, throttle.locked_until
    LOGIN_LOCKOUTS.inc()
    logger.warning(
        "Sign-in locked for username %s from every address for %s (lock %s in a row)",
        throttle.username_key[:12],
        length,
        throttle.locks,
    )


def _locked_rows(
    username: str, address: str | None, now: datetime
) -> tuple[LoginUsernameThrottle, LoginThrottle]:
    by_name = username_key(username)
    key = throttle_key(username, address)
    LoginUsernameThrottle.objects.get_or_create(username_key=by_name, defaults={"window_started_at": now})
    LoginThrottle.objects.get_or_create(key=key, defaults={"window_started_at": now, "username_key": by_name})
    # Row locks serialize concurrent attempts: each sees the counts the previous one left. Always the
    # username's row first, then the pair's.
    user_row = LoginUsernameThrottle.objects.select_for_update(no_key=True).get(username_key=by_name)
    return user_row, LoginThrottle.objects.select_for_update(no_key=True).get(key=key)


@transaction.atomic
def attempt_begin(username: str, address: str | None) -> datetime | None:
    """Count one attempt before its password is checked; a time means it is locked until then: refuse it."""
    now = timezone.now()
    user_row, throttle = _locked_rows(username, address, now)
    ends = max(
        (t for t in (user_row.locked_until, throttle.locked_until) if t is not None and t > now), default=None
    )
    if ends is not None:
        return ends
    if throttle.locked_until is not None or throttle.window_started_at <= now - WINDOW:
        # A lockout that has run out, or a count whose window has passed, starts again from this attempt.
        throttle.failures, throttle.window_started_at, throttle.locked_until = 0, now, None
    if user_row.window_started_at <= now - USERNAME_WINDOW:
        user_row.failures, user_row.window_started_at = 0, now
    throttle.failures += 1
    user_row.failures += 1
    if throttle.failures > MAX_FAILURES:
        lock_out(throttle, now)
    if user_row.failures > USERNAME_MAX_FAILURES:
        lock_out_username(user_row, now)
    throttle.save(update_fields=["failures", "window_started_at", "locked_until"])
    user_row.save(update_fields=["failures", "window_started_at", "locked_until", "locks"])
    return max((t for t in (user_row.locked_until, throttle.locked_until) if t and t > now), default=None)


@transaction.atomic
def attempt_failed(username: str, address: str | None) -> None:
    """The attempt counted by attempt_begin failed: the last allowed failure locks at once."""
    now = timezone.now()
    user_row = (
        LoginUsernameThrottle.objects.select_for_update(no_key=True)
        .filter(username_key=username_key(username))
        .first()
    )
    throttle = (
        LoginThrottle.objects.select_for_update(no_key=True)
        .filter(key=throttle_key(username, address))
        .first()
    )
    # A lock sets the count back to 0 and attempts are not counted while it lasts: no lock is doubled here.
    if user_row is not None and user_row.failures >= USERNAME_MAX_FAILURES:
        lock_out_username(user_row, now)
        user_row.save(update_fields=["failures", "window_started_at", "locked_until", "locks"])
    if throttle is not None and throttle.locked_until is None and throttle.failures >= MAX_FAILURES:
        lock_out(throttle, now)
        throttle.save(update_fields=["locked_until"])
    # Old counts of strangers' typos are of no use to anyone.
    LoginThrottle.objects.filter(window_started_at__lt=now - timedelta(days=1), locked_until=None).delete()
    LoginThrottle.objects.filter(locked_until__lt=now - timedelta(days=1)).delete()
    LoginUsernameThrottle.objects.filter(
        Q(locked_until=None) | Q(locked_until__lt=now - LOCKS_REMEMBERED),
        window_started_at__lt=now - timedelta(days=1),
    ).delete()


def attempt_succeeded(username: str, address: str | None) -> None:
    now = timezone.now()
    LoginThrottle.objects.filter(key=throttle_key(username, address), locked_until=None).delete()
    # The username's count starts again; a recent lock stays on record, so that the next one is doubled.
    rows = LoginUsernameThrottle.objects.filter(username_key=username_key(username))
    rows.filter(Q(locked_until=None) | Q(locked_until__lt=now - LOCKS_REMEMBERED)).delete()
    rows.update(failures=0, window_started_at=now)


def login_unlock(*, username: str) -> int:
    """Lift every lock and count for this username, from every address; returns how many addresses."""
    LoginUsernameThrottle.objects.filter(username_key=username_key(username)).delete()
    deleted, _ = LoginThrottle.objects.filter(username_key=username_key(username)).delete()
    return deleted


class SignInLocked(Throttled):
    """The API's answer to a locked-out sign-in: 429 saying until when, with Retry-After (Django's
    authenticate() would turn a PermissionDenied into 'wrong credentials')."""

    default_code = "sign_in_locked"

    def __init__(self, ends: datetime) -> None:
        APIException.__init__(self, locked_message(ends), self.default_code)
        self.wait = max(1, math.ceil((ends - timezone.now()).total_seconds()))


class GuardedModelBackend(ModelBackend):
    """Django's model backend, counting each attempt for the username and address before checking it."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if request is None or username is None or password is None:
            return super().authenticate(request, username=username, password=password, **kwargs)
        address = client_address(request)
        ends = attempt_begin(username, address)
        if ends is not None:
            if isinstance(request, Request):
                raise SignInLocked(ends)
            raise PermissionDenied(locked_message(ends))  # stops every other backend too
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            attempt_failed(username, address)
        else:
            attempt_succeeded(username, address)
        return user


class LockMessageMixin(AuthenticationForm):
    """For a login form: say that the username is locked out, and until when, rather than 'wrong password'.
    (A form itself, so that its clean() is the login form's; the admin's login form derives from it too.)"""

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except ValidationError:
            username = self.cleaned_data.get("username") or ""
            ends = lock_ends(username, client_address(self.request)) if username and self.request else None
            if ends is not None:
                raise ValidationError(locked_message(ends), code="locked") from None
            raise


class GuardedAuthenticationForm(LockMessageMixin, AuthenticationForm):
    """The portal's login form."""


class GuardedAdminAuthenticationForm(LockMessageMixin, AdminAuthenticationForm):
    """The admin's login form."""
