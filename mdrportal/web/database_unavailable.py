"""A request that finds the database out of reach (restarting, failing over, the network down) answers 503
with a plain message and Retry-After, not a 500 with a traceback.

Django turns an exception into a 500 response in whichever layer it was raised (a view, or a middleware that
reads the user), so no outer layer ever sees the exception itself. It does send got_request_exception from
inside its handler; the handler below marks the request there when the error is a lost database connection,
and the middleware swaps that request's 500 for the 503. Any other error (a deadlock, a bad query on a
working connection) stays a 500.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from django.core.signals import got_request_exception
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse

RETRY_AFTER_SECONDS = 5
MESSAGE = (
    "The portal's database cannot be reached right now. Nothing was changed; try again in a few seconds."
)
_MARK = "_database_unreachable"


def database_unreachable(error: BaseException | None) -> bool:
    """True when the error is a connection that failed or broke, not an error on a working connection."""
    if not isinstance(error, (OperationalError, InterfaceError)):
        return False
    return not connections[DEFAULT_DB_ALIAS].is_usable() if connections[DEFAULT_DB_ALIAS].connection else True


def _mark_request(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    if request is not None and database_unreachable(sys.exc_info()[1]):
        setattr(request, _MARK, True)


got_request_exception.connect(_mark_request, dispatch_uid="mdrportal.database_unavailable")


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 500 and getattr(request, _MARK, False):
            return unavailable_response(request)
        return response


def unavailable_response(request: HttpRequest) -> HttpResponse:
    if request.path_info.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": MESSAGE}, status=503)
    else:
        response = HttpResponse(MESSAGE + "\n", status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
