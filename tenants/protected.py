"""What a customer protects, as the gate reads it from an incident's policy snapshot: pure, no database.

Matching errs on the protected side: a host pattern is tried on the whole target and on its first label,
an account on its bare name (without DOMAIN\\ or @domain), an address range on any address or range that
overlaps it. Protecting too much only asks for a written authorization; protecting too little acts."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from tenants.protected_models import ProtectedKind

_HOST = re.compile(r"^[a-z0-9*?][a-z0-9.*?_-]*$")
_CODE = re.compile(r"^[a-z0-9_-]+$")
SNAPSHOT_KEYS = {
    ProtectedKind.HOST: "hosts",
    ProtectedKind.NETWORK: "networks",
    ProtectedKind.ACCOUNT: "accounts",
    ProtectedKind.ACTION_TYPE: "action_types",
}


def protected_value_clean(kind: str, value: str) -> str:
    """The value as it is stored and matched; ValueError says what is wrong with it."""
    value = value.strip()
    if not value:
        raise ValueError("Give a value.")
    if kind == ProtectedKind.HOST:
        value = value.lower()
        if not _HOST.match(value) or len(value) > 255:
            raise ValueError("A host name or a pattern of one: letters, digits, . - _ and the wildcards * ?.")
        return value
    if kind == ProtectedKind.NETWORK:
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError("An IP address or range, for example 10.20.0.0/16.") from None
    if kind == ProtectedKind.ACCOUNT:
        if any(c.isspace() for c in value):
            raise ValueError("An account name has no spaces (CORP\\jdoe, jdoe@corp.example or jdoe).")
        return value.lower()
    if kind == ProtectedKind.ACTION_TYPE:
        if not _CODE.match(value):
            raise ValueError("An action type's code, for example disable_user_account.")
        return value
    raise ValueError(f"{kind!r} is not one of {', '.join(ProtectedKind.values)}.")


def _bare_account(name: str) -> str:
    return name.rsplit("\\", 1)[-1].split("@", 1)[0]


def _network_of(target: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(target, strict=False)
    except ValueError:
        return None


@dataclass(frozen=True)
class Protection:
    """A tenant's protected targets and the action types it keeps out of automatic action."""

    hosts: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    action_types: tuple[str, ...] = ()

    @classmethod
    def from_snapshot(cls, data: Any) -> Protection:
        """Strict: anything but lists of valid values under the known keys is refused (ValueError).
        None is a snapshot taken before protection existed: nothing was protected then."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping) or set(data) - set(SNAPSHOT_KEYS.values()):
            raise ValueError(f"unreadable protected assets: {data!r}")
        values: dict[str, tuple[str, ...]] = {}
        for kind, key in SNAPSHOT_KEYS.items():
            items = data.get(key, [])
            if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
                raise ValueError(f"unreadable protected {key}: {items!r}")
            values[key] = tuple(protected_value_clean(kind, v) for v in items)
        return cls(**values)

    def to_snapshot(self) -> dict[str, list[str]]:
        return {key: list(getattr(self, key)) for key in SNAPSHOT_KEYS.values()}

    def __bool__(self) -> bool:
        return any(getattr(self, key) for key in SNAPSHOT_KEYS.values())

    def why(self, *, code: str, target: str) -> str | None:
        """Why this action on this target is protected, or None when it is not."""
        if code in self.action_types:
            return "the customer never lets MDR Ops perform this action type automatically"
        target = target.strip().lower()
        label = target.split(".", 1)[0]
        for pattern in self.hosts:
            if fnmatchcase(target, pattern) or fnmatchcase(label, pattern):
                return f"{target} is a protected host (matches {pattern})"
        network = _network_of(target)
        if network is not None:
            for value in self.networks:
                protected = ipaddress.ip_network(value)
                if protected.version == network.version and protected.overlaps(network):
                    return f"{target} is in a protected address range ({value})"
        bare = _bare_account(target)
        for account in self.accounts:
            if bare and bare == _bare_account(account):
                return f"{target} is a protected account ({account})"
        return None
