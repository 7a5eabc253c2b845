"""Typed readers of environment variables: a malformed value stops the process with the variable's name."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
from typing import overload

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


@overload
def env_str(name: str, default: str) -> str: ...
@overload
def env_str(name: str, default: None = None) -> str | None: ...
def env_str(name: str, default: str | None = None) -> str | None:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off."
    )


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum of {minimum}.")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}={number} is above the maximum of {maximum}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(item == "" for item in items):
        raise ImproperlyConfigured(f"{name}={value!r} has an empty item: separate values with single commas.")
    return items


def env_url(name: str, default: str, *, schemes: tuple[str, ...]) -> str:
    value = _raw(name)
    if value is None:
        return default
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in schemes:
        allowed = ", ".join(f"{s}://" for s in schemes)
        raise ImproperlyConfigured(f"{name}={value!r} must start with one of: {allowed}")
    return value


def env_networks(name: str) -> list[str]:
    """Networks in CIDR notation, comma-separated (10.20.0.0/24, fd00:1::/64); unset: none."""
    networks = []
    for item in env_list(name, []):
        try:
            network = ipaddress.ip_network(item, strict=True)
        except ValueError as error:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not a network in CIDR notation such as 10.20.0.0/24 ({error})."
            ) from None
        if network.prefixlen == 0:
            raise ImproperlyConfigured(f"{name}: {item!r} would allow every address; name the networks.")
        networks.append(str(network))
    return networks


def env_fernet_keys(name: str, *, derive_from: str | None) -> list[str]:
    """Fernet keys, comma-separated. Unset: one derived from derive_from (the embedded default), else an error.

    A malformed key stops the process naming its position, never its value.
    """
    keys = env_list(name, [])
    if not keys:
        if derive_from is None:
            raise ImproperlyConfigured(f"{name} must be set when DEBUG is off.")
        digest = hashlib.sha256(b"mdr-portal secrets at rest\0" + derive_from.encode()).digest()
        return [base64.urlsafe_b64encode(digest).decode()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"{name}: key {position} is not a Fernet key (32 url-safe base64-encoded bytes; make one "
                "with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')."
            ) from None
    return keys


def env_rate(name: str, default: str) -> str:
    """A rate as Django REST framework writes it: a count, a slash and a period (s, min, hour or day)."""
    value = _raw(name) or default
    count, _, period = value.partition("/")
    if not count.isdigit() or period not in {"s", "sec", "min", "hour", "day"}:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a rate such as 10/min (periods: s, min, hour, day)."
        )
    return value
