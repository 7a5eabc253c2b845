"""The signed-in person's own API tokens: when each was made, expires, was last used and passed a second
factor (never a key: none is kept), and a button to revoke each. Tokens are asked for through the API."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from mdrportal.core.users import SignedInRequest
from mdrportal.web.access import portal_page
from tenants.api_tokens import api_token_decides, api_token_revoke, api_tokens_of


@never_cache
@portal_page
def api_tokens(request: SignedInRequest) -> HttpResponse:
    rows = [{"token": token, "decides": api_token_decides(token)} for token in api_tokens_of(request.user)]
    context = {
        "rows": rows,
        "ttl_days": settings.API_TOKEN_TTL_DAYS,
        "step_up_hours": settings.SECOND_FACTOR_STEP_UP_HOURS,
    }
    return render(request, "pages/api_tokens.html", context)


@require_POST
@portal_page
def api_token_revoke_view(request: SignedInRequest, pk: int) -> HttpResponse:
    if not api_token_revoke(user=request.user, token_id=pk):
        raise Http404("You have no such token.")
    messages.success(request, f"API token {pk} revoked: it no longer works.")
    return redirect("api_tokens")
