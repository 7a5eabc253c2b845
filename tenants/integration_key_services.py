"""Writes of integration keys: create one (its secret is returned once and only its digest kept), revoke it,
and recognise one presented by a pipeline, recording its last use."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from mdrportal.core.users import User
from tenants.integration_key_models import KEY_SCHEME, IntegrationKey
from tenants.models import Tenant

# Last use is written at most this often: a pipeline opening a thousand incidents a minute writes it once.
LAST_USE_PRECISION = timedelta(minutes=1)
SCOPE_NEEDED = "Name the tenants the key acts for, or tick 'all tenants'."
SCOPE_TWICE = "A key for all tenants names none: untick 'all tenants' or remove the tenants."


def _digest(presented: str) -> str:
    return hashlib.sha256(presented.encode()).hexdigest()


def integration_key_scope_check(*, all_tenants: bool, tenants: Iterable[Tenant]) -> None:
    """A key acts for the tenants it names or, said explicitly, for all of them; never for none."""
    named = list(tenants)
    if all_tenants and named:
        raise ValidationError({"tenants": SCOPE_TWICE})
    if not all_tenants and not named:
        raise ValidationError({"tenants": SCOPE_NEEDED})


@transaction.atomic
def integration_key_create(
    *, name: str, tenants: Iterable[Tenant], all_tenants: bool, by: User
) -> tuple[IntegrationKey, str]:
    """A new key and the key itself (`mdrk_<prefix>_<secret>`), which is shown once and never stored."""
    named = list(tenants)
    integration_key_scope_check(all_tenants=all_tenants, tenants=named)
    prefix = secrets.token_hex(4)
    while IntegrationKey.objects.filter(prefix=prefix).exists():
        prefix = secrets.token_hex(4)
    presented = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    key = IntegrationKey(
        name=name.strip(), all_tenants=all_tenants, prefix=prefix, digest=_digest(presented), created_by=by
    )
    key.full_clean()
    key.save()
    key.tenants.set(named)
    return key, presented


def integration_key_revoke(*, key: IntegrationKey, by: User) -> bool:
    """Revoke the key (its next request is a 401); a key revoked already keeps its first revocation."""
    now = timezone.now()
    changed = IntegrationKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=by
    )
    if changed:
        key.revoked_at, key.revoked_by = now, by
    return bool(changed)


def integration_key_use(*, presented: str) -> IntegrationKey | None:
    """The live key this is, or None (unknown, malformed, wrong secret or revoked); its last use recorded."""
    scheme, _, rest = presented.partition("_")
    prefix, _, secret = rest.partition("_")
    if scheme != KEY_SCHEME or not prefix or not secret:
        return None
    key = IntegrationKey.objects.filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.digest, _digest(presented)):
        return None
    now = timezone.now()
    if key.last_used_at is None or key.last_used_at <= now - LAST_USE_PRECISION:
        # Conditional, so that concurrent requests write it once; a failed write loses only precision.
        IntegrationKey.objects.filter(pk=key.pk, last_used_at=key.last_used_at).update(last_used_at=now)
        key.last_used_at = now
    return key
