"""Typed observables: each kind's validation and normal form, and adding them to an incident once."""

from __future__ import annotations

import ipaddress
import re

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from incidents.locks import incident_lock
from incidents.models import Channel, EventKind, Incident, Observable, ObservableKind
from incidents.timeline_writes import timeline_record
from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import User

_SHA256 = re.compile(r"[0-9a-f]{64}")
# RFC 1123 labels; a domain has at least two of them, a host name one or more.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})+")
_HOST = re.compile(rf"{_LABEL}(\.{_LABEL})*")
# user, user@domain, DOMAIN\user: no spaces or control characters.
_ACCOUNT = re.compile(r"[^\s\x00-\x1f]{1,256}")


def observable_normalize(kind: str, value: str) -> str:
    """The value in its normal form (so the same indicator is kept once), or a ValidationError naming it."""
    raw = value.strip()
    if kind == ObservableKind.SHA256:
        normal = raw.lower()
        if not _SHA256.fullmatch(normal):
            raise ValidationError({"value": "A SHA-256 is 64 hexadecimal characters."}, code="bad_sha256")
        return normal
    if kind == ObservableKind.IP:
        try:
            return str(ipaddress.ip_address(raw))
        except ValueError:
            raise ValidationError({"value": f"“{raw}” is not an IP address."}, code="bad_ip") from None
    if kind == ObservableKind.DOMAIN:
        normal = raw.lower().rstrip(".")
        if len(normal) > 253 or not _DOMAIN.fullmatch(normal):
            raise ValidationError({"value": f"“{raw}” is not a domain name."}, code="bad_domain")
        return normal
    if kind == ObservableKind.URL:
        try:
            URLValidator(schemes=["http", "https", "ftp", "ftps"])(raw)
        except ValidationError:
            raise ValidationError({"value": f"“{raw}” is not a URL."}, code="bad_url") from None
        return raw
    if kind == ObservableKind.HOST:
        normal = raw.lower()
        if len(normal) > 253 or not _HOST.fullmatch(normal):
            raise ValidationError({"value": f"“{raw}” is not a host name."}, code="bad_host")
        return normal
    if kind == ObservableKind.ACCOUNT:
        if not _ACCOUNT.fullmatch(raw):
            raise ValidationError({"value": "An account is a name without spaces."}, code="bad_account")
        return raw
    raise ValidationError({"kind": f"“{kind}” is not a kind of observable."}, code="bad_kind")


@retried_atomic
def observable_add(
    *,
    incident: Incident,
    kind: str,
    value: str,
    by: User | None,
    description: str = "",
    channel: str = Channel.ADMIN,
) -> tuple[Observable, bool]:
    """Add an observable to the incident unless it holds it already; returns it and whether it is new."""
    normal = observable_normalize(kind, value)
    locked = incident_lock(incident.pk)
    existing = Observable.objects.filter(incident=locked, kind=kind, value=normal).first()
    if existing is not None:
        return existing, False
    observable = Observable.objects.create(
        incident=locked, kind=kind, value=normal, description=description, added_by=by
    )
    timeline_record(
        incident=locked,
        kind=EventKind.OBSERVABLE_ADDED,
        summary=f"Observable added: {observable}",
        by=by,
        channel=channel,
        data={"observable": observable.pk, "kind": kind, "value": normal},
    )
    return observable, True
