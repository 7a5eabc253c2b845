"""Endpoints for load balancers, orchestrators and Prometheus: no session, no CSRF, no HTML."""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from operations.health import health
from operations.metrics import metrics_exposition

log = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database, the broker and the sweepers are all fine; 503 naming what is not.

    Anyone may ask (load balancers send no credentials): exception texts are only for a caller with the
    metrics token, and for the logs.
    """
    checks = health()
    failing = [name for name, check in checks.items() if not check.ok]
    operator = _has_metrics_token(request)
    body = {
        "status": "fail" if failing else "ok",
        "failing": failing,
        "checks": {
            name: {"ok": check.ok, "detail": check.detail if operator else check.shown_to_anyone}
            for name, check in checks.items()
        },
    }
    response = JsonResponse(body, status=503 if failing else 200)
    if failing:
        # A warning, not Django's error for a 5xx: probes repeat every few seconds and must not page anyone.
        log.warning("health check failing: %s", "; ".join(f"{n}: {checks[n].detail}" for n in failing))
        response._has_been_logged = True  # type: ignore[attr-defined]  # Django's own mark (utils.log.log_response)
    return response


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, only for a scraper that sends `Authorization: Bearer <METRICS_TOKEN>`."""
    if not settings.METRICS_TOKEN:
        return HttpResponse("Metrics are off: set METRICS_TOKEN.\n", status=404, content_type="text/plain")
    if not _has_metrics_token(request):
        response = HttpResponse("A valid bearer token is needed.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_exposition(), content_type=CONTENT_TYPE_LATEST)


def _has_metrics_token(request: HttpRequest) -> bool:
    """Whether the caller sent `Authorization: Bearer <METRICS_TOKEN>` (never, while no token is set)."""
    token = settings.METRICS_TOKEN
    offered = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(offered.encode(), f"Bearer {token}".encode())
