"""The page an emailed link opens: GET shows what the link is about and changes nothing (mail scanners
fetch links); POST, with CSRF, records the contact's decision and uses the link up."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from escalation.links.tokens import LinkError, LinkPurpose, LinkTarget, link_read, link_target
from escalation.links.use import link_use
from mdrportal.core.client_address import client_address

STATUS = {"altered": 400, "refused": 403, "stale": 409, "closed": 409, "expired": 410, "used": 410}
STATEMENT_MAX_CHARS = 4000


def _page(request: HttpRequest, template: str, context: dict[str, object], status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _context(target: LinkTarget) -> dict[str, object]:
    return {
        "target": target,
        "incident": target.incident,
        "tenant": target.incident.tenant,
        "contact": target.contact,
        "actions": target.actions,
        "authorize": target.link.purpose is LinkPurpose.AUTHORIZE,
        "task": target.actions[0] if target.link.purpose is LinkPurpose.TASK_ACK else None,
    }


@never_cache
@require_http_methods(["GET", "POST"])
def link_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = link_read(token)
        if request.method == "GET":
            return _page(request, "links/confirm.html", _context(link_target(link)))
        decision = request.POST.get("decision", "")
        if decision not in ("confirm", "decline"):
            return _page(request, "links/refused.html", {"reason": "bad_request"}, status=400)
        target = link_use(
            link=link,
            granted=decision == "confirm",
            shown_digest=request.POST.get("shown", ""),
            statement=request.POST.get("statement", "")[:STATEMENT_MAX_CHARS],
            ip_address=client_address(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    except LinkError as error:
        context: dict[str, object] = {
            "reason": error.reason,
            "message": LinkError.MESSAGES[error.reason],
            "detail": error.detail,
        }
        return _page(request, "links/refused.html", context, status=STATUS[error.reason])
    return _page(request, "links/done.html", {**_context(target), "granted": decision == "confirm"})
