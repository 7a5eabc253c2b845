"""Brute-force protection for sign-in: 5 failed attempts for one username from one address lock it for
15 minutes.

An attempt is counted before its password is checked, under a lock on the pair's row, so concurrent
attempts cannot outrun the limit: at most MAX_FAILURES passwords are ever checked per pair and window, and
the one after them is refused unchecked, the right password included. A success clears the count. The
count lives in the database (tenants.LoginThrottle), so every web process shares it. The address is the
client's as `TRUSTED_PROXY_COUNT` defines it (mdrportal/core/client_address.py).

The authentication backend enforces it, which covers every sign-in that passes a request (this portal's
login page, the admin's and the API's token endpoint); the login form turns a lockout into a clear message.
Both keys are HMACs: no typed-in username (often a password typed in the wrong box) is stored.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from mdrportal.core.client_address import client_address
from mdrportal.core.metrics import LOGIN_LOCKOUTS
from tenants.models import LoginThrottle

logger = logging.getLogger(__name__)

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
LOCKED_MESSAGE = (
    "Too many failed sign-ins for this username from your network address: sign-in is locked for "
    "15 minutes. Wait and try again, or ask your MDR provider to unlock it."
)


def _normal(username: str) -> str:
    return username.strip().lower()


def username_key(username: str) -> str:
    return salted_hmac("mdrportal.web.login_guard.username", _normal(username)).hexdigest()


def throttle_key(username: str, address: str | None) -> str:
    return salted_hmac("mdrportal.web.login_guard", f"{_normal(username)}|{address or ''}").hexdigest()


def is_locked(key: str) -> bool:
    return LoginThrottle.objects.filter(key=key, locked_until__gt=timezone.now()).exists()


def lock_out(throttle: LoginThrottle, now: datetime) -> None:
    """The one place a username and address get locked out (metrics and alerts hook in here)."""
    throttle.locked_until = now + LOCKOUT
    LOGIN_LOCKOUTS.inc()
    logger.warning("Sign-in locked for %s after %s failed attempts", throttle.key[:12], throttle.failures)


@transaction.atomic
def attempt_begin(username: str, address: str | None) -> bool:
    """Count one attempt before its password is checked; False means the pair is locked: refuse it."""
    now = timezone.now()
    key = throttle_key(username, address)
    LoginThrottle.objects.get_or_create(
        key=key, defaults={"window_started_at": now, "username_key": username_key(username)}
    )
    # The row lock serializes concurrent attempts for the pair: each sees the count the previous one left.
    throttle = LoginThrottle.objects.select_for_update(no_key=True).get(key=key)
    if throttle.locked_until is not None and throttle.locked_until > now:
        return False
    if throttle.locked_until is not None or throttle.window_started_at <= now - WINDOW:
        # A lockout that has run out, or a count whose window has passed, starts again from this attempt.
        throttle.failures, throttle.window_started_at, throttle.locked_until = 0, now, None
    throttle.failures += 1
    allowed = throttle.failures <= MAX_FAILURES
    if not allowed:
        lock_out(throttle, now)
    throttle.save(update_fields=["failures", "window_started_at", "locked_until"])
    return allowed


@transaction.atomic
def attempt_failed(username: str, address: str | None) -> None:
    """The attempt counted by attempt_begin failed: the last allowed failure locks the pair at once."""
    now = timezone.now()
    throttle = (
        LoginThrottle.objects.select_for_update(no_key=True)
        .filter(key=throttle_key(username, address))
        .first()
    )
    if throttle is not None and throttle.locked_until is None and throttle.failures >= MAX_FAILURES:
        lock_out(throttle, now)
        throttle.save(update_fields=["locked_until"])
    # Old counts of strangers' typos are of no use to anyone.
    LoginThrottle.objects.filter(window_started_at__lt=now - timedelta(days=1), locked_until=None).delete()
    LoginThrottle.objects.filter(locked_until__lt=now - timedelta(days=1)).delete()


def attempt_succeeded(username: str, address: str | None) -> None:
    LoginThrottle.objects.filter(key=throttle_key(username, address), locked_until=None).delete()


def login_unlock(*, username: str) -> int:
    """Lift every lock and count for this username, from every address; returns how many were lifted."""
    deleted, _ = LoginThrottle.objects.filter(username_key=username_key(username)).delete()
    return deleted


class GuardedModelBackend(ModelBackend):
    """Django's model backend, counting each attempt for the username and address before checking it."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if request is None or username is None or password is None:
            return super().authenticate(request, username=username, password=password, **kwargs)
        address = client_address(request)
        if not attempt_begin(username, address):
            raise PermissionDenied(LOCKED_MESSAGE)  # stops every other backend too
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            attempt_failed(username, address)
        else:
            attempt_succeeded(username, address)
        return user


class GuardedAuthenticationForm(AuthenticationForm):
    """The login form, saying so when the username is locked out rather than 'wrong password'."""

    error_messages = {**AuthenticationForm.error_messages, "locked": LOCKED_MESSAGE}

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except ValidationError:
            username = self.cleaned_data.get("username") or ""
            if username and is_locked(throttle_key(username, client_address(self.request))):
                raise ValidationError(self.error_messages["locked"], code="locked") from None
            raise
