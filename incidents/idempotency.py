"""Opening an incident once per Idempotency-Key: a retried request gets the incident the first one opened."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db.models import Model

from incidents.models import IdempotencyKey, Incident
from incidents.services import incident_open
from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import User
from tenants.models import IntegrationKey

_KEY_MAX = IdempotencyKey._meta.get_field("key").max_length
assert _KEY_MAX is not None  # the key is a CharField, which has one
KEY_MAX: int = _KEY_MAX
KEY_REUSED = (
    "This Idempotency-Key was already used with a different request (it opened incident #{id}). "
    "Send the same request to get that incident again, or use a new key for a new incident."
)


class KeyReused(Exception):
    """The key opened an incident for another request."""

    def __init__(self, incident_id: int) -> None:
        super().__init__(KEY_REUSED.format(id=incident_id))


def _earlier(caller: dict[str, Any], key: str) -> IdempotencyKey | None:
    return IdempotencyKey.objects.filter(**caller, key=key).select_related("incident").first()


def _fingerprint(fields: dict[str, Any]) -> str:
    plain = {k: v.pk if isinstance(v, Model) else v for k, v in fields.items()}
    return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()


def key_check(key: str, *, field: str) -> str:
    key = key.strip()
    if not key or len(key) > KEY_MAX or not key.isprintable():
        raise ValidationError({field: f"Give between 1 and {KEY_MAX} printable characters."})
    return key


def incident_open_once(
    *,
    key: str,
    by: User | None,
    channel: str,
    fields: dict[str, Any],
    integration_key: IntegrationKey | None = None,
) -> tuple[Incident, bool]:
    """The incident this key opened for these fields (replayed: True), or a new one opened now.

    The key is the caller's own: a person's (by), or a pipeline's integration key's. Raises KeyReused when
    the key opened an incident for other fields.
    """
    fingerprint = _fingerprint(fields)
    caller = {"user": by} if integration_key is None else {"integration_key": integration_key}
    earlier = _earlier(caller, key)
    if earlier is None:
        try:
            return _open_with_key(
                key=key,
                caller=caller,
                by=by,
                integration_key=integration_key,
                channel=channel,
                fields=fields,
                fingerprint=fingerprint,
            ), False
        except IntegrityError:
            # A concurrent retry with the same key committed first; its incident is the one.
            earlier = _earlier(caller, key)
            if earlier is None:
                raise
    if earlier.fingerprint != fingerprint:
        raise KeyReused(earlier.incident_id)
    return earlier.incident, True


@retried_atomic
def _open_with_key(
    *,
    key: str,
    caller: dict[str, Any],
    by: User | None,
    integration_key: IntegrationKey | None,
    channel: str,
    fields: dict[str, Any],
    fingerprint: str,
) -> Incident:
    """The incident and the caller's key that opened it, in one transaction."""
    incident = incident_open(by=by, channel=channel, integration_key=integration_key, **fields)
    IdempotencyKey.objects.create(**caller, key=key, fingerprint=fingerprint, incident=incident)
    return incident
