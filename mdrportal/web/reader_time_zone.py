"""Times in the reader's time zone: every request of a signed-in person renders its times (pages and admin)
in the zone the person chose, else the customer's, else the portal's. Pages about a tenant refine the default
to the tenant acted for (mdrportal.web.access).

What the person chose is kept in the session for a few minutes, so a page costs no query for it; choosing on
the account page renews it at once.
"""

from __future__ import annotations

import time
import zoneinfo
from collections.abc import Callable
from typing import cast

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from mdrportal.core.users import SignedInRequest
from tenants.preferences import default_time_zone, own_time_zone

SESSION_KEY = "reader_time_zone"
# A choice made elsewhere (the API) reaches a web session at most this late.
REFRESH_SECONDS = 300


def reader_zones(request: SignedInRequest) -> tuple[str, str]:
    """The signed-in person's own zone ("" for none) and their default zone."""
    user = request.user
    kept = request.session.get(SESSION_KEY)
    if kept and kept.get("user") == user.pk and time.time() - kept.get("at", 0) < REFRESH_SECONDS:
        return kept["own"], kept["default"]
    own, default = own_time_zone(user), default_time_zone(user)
    request.session[SESSION_KEY] = {"user": user.pk, "own": own, "default": default, "at": time.time()}
    return own, default


def reader_zones_forget(request: HttpRequest) -> None:
    """The person changed their zone: the next request reads it again."""
    request.session.pop(SESSION_KEY, None)


def activate_zone(name: str) -> None:
    try:
        timezone.activate(zoneinfo.ZoneInfo(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        timezone.activate(timezone.get_default_timezone())


class ReaderTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            # Its user, just checked, is signed in.
            own, default = reader_zones(cast(SignedInRequest, request))
            activate_zone(own or default)
        try:
            return self.get_response(request)
        finally:
            # The thread serves other requests next: no one's zone may linger.
            timezone.deactivate()
