"""The address a request came from, as used for the sign-in lock, throttles and authorization evidence.

`X-Forwarded-For` is written by whoever sends the request; only the entries appended by proxies we run can
be believed. With `TRUSTED_PROXY_COUNT = N` (the number of proxies in front of the portal, each appending
the address it received the request from), the client is the N-th entry from the right. With 0 (the
default) the header is ignored and the peer's address (`REMOTE_ADDR`) is the client.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest | None) -> str | None:
    """The client's IP address, or None when there is no request or no usable address."""
    if request is None:
        return None
    peer = _ip(request.META.get("REMOTE_ADDR") or "")
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies == 0:
        return peer
    hops = [hop for hop in (request.META.get("HTTP_X_FORWARDED_FOR") or "").split(",") if hop.strip()]
    if len(hops) < proxies:
        # Fewer hops than proxies: the request did not come through all of them (or one is misconfigured).
        # The peer is then the only address nobody could write; the lock becomes stricter, never looser.
        return peer
    return _ip(hops[-proxies]) or peer
