"""Brute-force protection for sign-in: 5 failures for one username from one address lock it for 15 minutes.

The count lives in the database (tenants.LoginThrottle), so every web process shares it, and is changed
with conditional UPDATEs, never read-then-save. The authentication backend enforces it, which covers every
sign-in that passes a request (this portal's login page and the admin's); the login form turns a lockout
into a clear message.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac

from tenants.models import LoginThrottle

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
LOCKED_MESSAGE = (
    "Too many failed sign-ins for this username from your network address: sign-in is locked for "
    "15 minutes. Wait and try again, or ask your MDR provider to reset your password."
)


def client_address(request: HttpRequest | None) -> str:
    # REMOTE_ADDR, not X-Forwarded-For, which the client writes. Behind a proxy every client shares the
    # proxy's address: the lock is then per username, which is stricter, not looser.
    return (request.META.get("REMOTE_ADDR") or "") if request is not None else ""


def throttle_key(username: str, address: str) -> str:
    return salted_hmac("mdrportal.login_guard", f"{username.strip().lower()}|{address}").hexdigest()


def is_locked(key: str) -> bool:
    return LoginThrottle.objects.filter(key=key, locked_until__gt=timezone.now()).exists()


@transaction.atomic
def record_failure(key: str) -> bool:
    """Count one failure; returns whether this one locked the pair out."""
    now = timezone.now()
    LoginThrottle.objects.get_or_create(key=key, defaults={"window_started_at": now})
    rows = LoginThrottle.objects.filter(key=key)
    # A count whose window has passed, or whose lockout has run out, starts again from this failure.
    rows.filter(Q(window_started_at__lte=now - WINDOW) | Q(locked_until__lte=now)).update(
        failures=0, window_started_at=now, locked_until=None
    )
    rows.update(failures=F("failures") + 1)
    locked = rows.filter(failures__gte=MAX_FAILURES, locked_until__isnull=True).update(
        locked_until=now + LOCKOUT
    )
    # Old counts of strangers' typos are of no use to anyone.
    LoginThrottle.objects.filter(window_started_at__lt=now - timedelta(days=1)).filter(
        Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    ).delete()
    return locked == 1


def record_success(key: str) -> None:
    LoginThrottle.objects.filter(key=key).delete()


class GuardedModelBackend(ModelBackend):
    """Django's model backend, refusing a locked username and address before checking the password."""

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
        key = throttle_key(username, client_address(request))
        if is_locked(key):
            raise PermissionDenied(LOCKED_MESSAGE)  # stops every other backend too
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            record_failure(key)
        else:
            record_success(key)
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
