"""A tenant's connector settings: validated per kind, the secret write-only, every change audited."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from incidents.connector_models import ConnectorConfig, ConnectorKind
from mdrportal.core.http import addresses
from mdrportal.core.users import User
from tenants.deciding import CONNECTOR
from tenants.models import Tenant
from tenants.selectors import url_host
from tenants.services import deciding_writer_check, settings_audit

_CONNECTOR_NEEDS: dict[str, tuple[str, ...]] = {
    ConnectorKind.SIMULATED: (),
    ConnectorKind.SOPHOS_CENTRAL: ("url", "client_id", "external_tenant_id", "secret"),
    ConnectorKind.WEBHOOK: ("url", "secret"),
}


_SOPHOS_API_HOST = re.compile(r"api-[a-z0-9]+\.central\.sophos\.com")


def connector_url_problem(*, kind: str, url: str) -> str | None:
    """Why a connector URL may not be used, or None. Stops tokens and signed requests going astray.

    Resolves the host name (every address it has must be global or in CONNECTOR_ALLOWED_NETWORKS): call it
    outside any transaction. The same check runs again when a call connects, against a name re-pointed since.
    """
    if not url or settings.CONNECTOR_ALLOW_LOCAL_URLS:
        return None
    try:
        parts = urlsplit(url)
        host, port = (parts.hostname or "").lower(), parts.port or 443
    except ValueError:
        return "This is not a valid URL."
    if parts.scheme != "https":
        return "Use an https:// address."
    problem = addresses.name_problem(host)
    if problem and not addresses.allowed_networks():
        return problem  # refused before any lookup; with allowed networks, the addresses decide below
    if kind == ConnectorKind.SOPHOS_CENTRAL and not _SOPHOS_API_HOST.fullmatch(host):
        return (
            "Use the tenant's Sophos Central data-region host, such as https://api-eu01.central.sophos.com."
        )
    try:
        addresses.checked_addresses(host, port, allow_local=False, timeout=settings.CONNECTOR_TIMEOUT_SECONDS)
    except addresses.AddressRefused as refused:
        return str(refused)
    except addresses.NotResolved:
        return "This host name does not resolve: check the address."
    return None


def connector_missing_fields(
    *, kind: str, url: str, client_id: str, external_tenant_id: str, has_secret: bool
) -> dict[str, str]:
    """The settings a connector of this kind needs and does not have, as field errors."""
    present = {
        "url": url,
        "client_id": client_id,
        "external_tenant_id": external_tenant_id,
        "secret": has_secret,
    }
    return {f: "Required for this connector." for f in _CONNECTOR_NEEDS.get(kind, ()) if not present[f]}


def _connector_public(config: ConnectorConfig) -> dict[str, Any]:
    return {
        "kind": config.kind,
        "url": config.url,
        "client_id": config.client_id,
        "external_tenant_id": config.external_tenant_id,
        "options": config.options,
        "secret": "set" if config.secret else "",
    }


def connector_configure(
    *,
    tenant: Tenant,
    by: User | None,
    kind: str,
    url: str = "",
    client_id: str = "",
    external_tenant_id: str = "",
    secret: str | None = None,
    options: dict[str, Any] | None = None,
) -> ConnectorConfig:
    """Set how MDR Ops reaches the tenant's platform. A secret of None keeps the stored one (write-only)."""
    deciding_writer_check(by=by, tenant=tenant, operation=CONNECTOR)
    if kind not in _CONNECTOR_NEEDS:
        raise ValidationError({"kind": f"{kind!r} is not one of {', '.join(ConnectorKind.values)}."})
    url = url.strip()
    # Resolves the host name: a network call, so before the transaction and its row lock.
    problem = connector_url_problem(kind=kind, url=url)
    if problem:
        raise ValidationError({"url": problem})
    with transaction.atomic():
        config = ConnectorConfig.objects.select_for_update(no_key=True).filter(tenant=tenant).first()
        before = _connector_public(config) if config is not None else None
        config = config or ConnectorConfig(tenant=tenant)
        secret_changed = secret is not None and secret != config.secret
        config.kind, config.url, config.client_id = kind, url, client_id.strip()
        config.external_tenant_id, config.options = external_tenant_id.strip(), options or {}
        if secret is not None:
            config.secret = secret
        missing = connector_missing_fields(
            kind=kind,
            url=config.url,
            client_id=config.client_id,
            external_tenant_id=config.external_tenant_id,
            has_secret=bool(config.secret),
        )
        if missing:
            raise ValidationError(missing)
        config.full_clean()
        config.save()
        after = _connector_public(config)
        if before != after or secret_changed:
            settings_audit(
                tenant=tenant,
                by=by,
                field="connector",
                before=_audited(before) if before is not None else None,
                after={
                    **_audited(after, before=before),
                    "secret": "changed" if secret_changed else after["secret"],
                },
            )
    return config


def _audited(public: dict[str, Any], *, before: dict[str, Any] | None = None) -> dict[str, Any]:
    """Settings as the audit keeps them: the URL's host only, since a path or query may hold a token."""
    host = url_host(public["url"]) if public["url"] else ""
    if host and before and before["url"] != public["url"] and url_host(before["url"]) == host:
        host += " (address changed)"
    return {**public, "url": host}
