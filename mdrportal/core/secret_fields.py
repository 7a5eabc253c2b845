"""Secrets encrypted at rest: Fernet with the keys in SECRETS_ENCRYPTION_KEYS, and a model field using them.

Rotation: put a new key first in SECRETS_ENCRYPTION_KEYS and keep the old ones after it; the first key
encrypts, every key decrypts. `manage.py rotate_secrets` then re-encrypts stored values with the first key,
after which the old keys can be removed.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models.expressions import Combinable


class SecretUnreadable(ImproperlyConfigured):
    """A stored secret that none of the configured keys decrypts: a key was removed too early."""


@lru_cache(maxsize=4)
def _box(keys: tuple[str, ...]) -> MultiFernet:
    # The keys were checked when the settings were read (mdrportal.core.env.env_fernet_keys).
    return MultiFernet([Fernet(key.encode()) for key in keys])


def box() -> MultiFernet:
    return _box(tuple(settings.SECRETS_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return box().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return box().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted with any key in SECRETS_ENCRYPTION_KEYS: "
            "put back the key it was encrypted with (after the current one)."
        ) from None


class EncryptedTextField(models.TextField[str | Combinable, str]):
    """Text kept encrypted in the database and plain in Python; an empty value stays empty (nothing set).

    Each save encrypts anew (Fernet is randomized), so the column cannot be searched or compared.
    """

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if not value:
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)
