"""Admin change forms whose saves go through services that are retried whole on a deadlock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse

from mdrportal.core.retry import retried_atomic


class RetriedChangeFormMixin:
    """The admin wraps its change form's save in its own transaction, inside which a retried service may not
    run: the whole form is retried instead (reads are not wrapped, as in Django)."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # The change form of the ModelAdmin this mixes into.
        view: Callable[[HttpRequest, str | None, str, dict[str, Any] | None], HttpResponse]
        view = self._changeform_view  # type: ignore[attr-defined]  # private: not in the stubs
        if request.method in ("GET", "HEAD", "OPTIONS", "TRACE"):
            return view(request, object_id, form_url, extra_context)
        return retried_atomic(view)(request, object_id, form_url, extra_context)
