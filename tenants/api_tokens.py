"""Personal API tokens: created (the key shown once, a digest kept), found by key, listed and revoked by
their owner, and revoked with every web session of a user whose credentials change.

A token expires API_TOKEN_TTL_DAYS after its creation. One created with a second-factor code records when;
it may decide (authorize, decline, acknowledge, change what decides) only while that time is within
SECOND_FACTOR_STEP_UP_HOURS, as a web session may. One created without a code never decides. To decide
again after the window the owner asks for a new token with a code (POST /api/v1/auth/token/ with `otp`)
and revokes the old one.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import SESSION_KEY as AUTH_USER_SESSION_KEY
from django.contrib.sessions.models import Session
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from mdrportal.core.users import User
from tenants.models import ApiToken

logger = logging.getLogger(__name__)

# The session backend whose rows user_sessions_end can find and delete (the site's: settings leave the default).
SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Recorded at most once a minute: a token used for every request would otherwise write on every read.
LAST_USE_PRECISION = timedelta(minutes=1)


def api_token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def password_stamp(user: User) -> str:
    """An HMAC of the user's password hash: it changes whenever the password does."""
    return salted_hmac("tenants.api_tokens.password", user.password, algorithm="sha256").hexdigest()


@transaction.atomic
def api_token_create(*, user: User, second_factor_at: datetime | None) -> tuple[ApiToken, str]:
    """A new token for the user and its key, which is not kept: the caller shows it once."""
    key = secrets.token_hex(32)
    now = timezone.now()
    token = ApiToken.objects.create(
        user=user,
        digest=api_token_digest(key),
        password_stamp=password_stamp(user),
        created_at=now,
        expires_at=now + timedelta(days=settings.API_TOKEN_TTL_DAYS),
        second_factor_at=second_factor_at,
    )
    return token, key


def api_token_find(key: str) -> ApiToken | None:
    """The live token with this key (its user loaded), or None: unknown, expired, made under an older
    password, or its user deactivated."""
    if not key or len(key) > 128:
        return None
    token = ApiToken.objects.select_related("user").filter(digest=api_token_digest(key)).first()
    if token is None or token.expires_at <= timezone.now() or not token.user.is_active:
        return None
    if not constant_time_compare(token.password_stamp, password_stamp(token.user)):
        return None
    return token


def api_token_used(*, token: ApiToken) -> None:
    """Record a use of the token, at most once per LAST_USE_PRECISION."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USE_PRECISION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def api_token_decides(token: ApiToken) -> bool:
    """Whether the token's second factor is recent enough to decide (the web's step-up window)."""
    if token.second_factor_at is None:
        return False
    window = timedelta(hours=settings.SECOND_FACTOR_STEP_UP_HOURS)
    return timezone.now() - token.second_factor_at <= window


def api_tokens_of(user: User) -> QuerySet[ApiToken]:
    """The user's tokens that still work, newest first."""
    return ApiToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), password_stamp=password_stamp(user)
    )


def api_tokens_expired_prune(*, now: datetime) -> int:
    """Delete the tokens that expired before `now` (they no longer work); returns how many."""
    deleted, _ = ApiToken.objects.filter(expires_at__lte=now).delete()
    return deleted


def api_token_revoke(*, user: User, token_id: int) -> bool:
    """Revoke one of the user's own tokens; False if the user has no such token."""
    deleted, _ = ApiToken.objects.filter(user=user, pk=token_id).delete()
    if deleted:
        logger.info("API token %s of user %s revoked by its owner", token_id, user.pk)
    return bool(deleted)


def user_sessions_end(*, user: User, keep: str | None = None) -> int:
    """Delete every web session signed in as the user (but the one keyed `keep`); returns how many.

    The database session backend keeps no index by user: each live session is read. This runs only when a
    user's credentials change, rarely, and an old session must never outlive that.
    """
    if settings.SESSION_ENGINE != SESSION_ENGINE:
        # Sessions kept elsewhere (a cache, cookies) could not be found here: refuse rather than leave them.
        raise ImproperlyConfigured(f"Ending a user's sessions needs SESSION_ENGINE = {SESSION_ENGINE!r}.")
    keys = [
        session.session_key
        for session in Session.objects.filter(expire_date__gt=timezone.now()).exclude(session_key=keep)
        if session.get_decoded().get(AUTH_USER_SESSION_KEY) == str(user.pk)
    ]
    ended, _ = Session.objects.filter(session_key__in=keys).delete()
    return ended


@transaction.atomic
def user_credentials_revoke(*, user: User, reason: str, keep_session: str | None = None) -> None:
    """Revoke every API token of the user and end its web sessions (but `keep_session`): a second factor
    reset, a new password or a deactivation leaves no credential made before it."""
    tokens, _ = ApiToken.objects.filter(user=user).delete()
    sessions = user_sessions_end(user=user, keep=keep_session)
    logger.info(
        "Credentials of user %s revoked (%s): %d API tokens, %d sessions", user.pk, reason, tokens, sessions
    )


@transaction.atomic
def user_password_set(*, user: User, password: str | None, keep_session: str | None = None) -> None:
    """Set (or, with None, disable) the user's password and revoke what the old one opened."""
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.save(update_fields=["password"])
    user_credentials_revoke(user=user, reason="password changed", keep_session=keep_session)


@transaction.atomic
def user_deactivate(*, user: User) -> None:
    """The user can no longer sign in or use the API: every token and session ends with it."""
    if user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    user_credentials_revoke(user=user, reason="deactivated")
