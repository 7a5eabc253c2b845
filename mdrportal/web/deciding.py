"""The pages' one check before a deciding write (tenants.deciding): refused (403) whom the list refuses,
sent to the second-factor check (step-up) when the write decides and the last one is not recent."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from mdrportal.web.second_factor import step_up_redirect
from tenants.deciding import Operation, deciding_refusal
from tenants.models import Tenant


def decision_check(
    request: HttpRequest,
    *,
    tenant: Tenant,
    operation: Operation,
    back: str,
    changed: Iterable[str] | None = None,
) -> HttpResponse | None:
    """None when the write may go ahead; else the way to the check, back to the page named `back`.

    `changed` names the fields the write changes (None: not known, so it decides)."""
    refused = deciding_refusal(user=request.user, tenant=tenant, operation=operation)
    if refused is not None:
        raise PermissionDenied(refused)
    if operation.decides(changed):
        return step_up_redirect(request, back)
    return None


def admin_step_up(request: HttpRequest) -> HttpResponse | None:
    """For an admin write that decides (MDR staff's rights are their permissions, which the admin checks):
    None when the second factor was passed within the window, else the way to the check and back."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    return step_up_redirect(request, request.get_full_path())


if TYPE_CHECKING:
    # The admin this mixes into (any model's), for the checker only: Django's ModelAdmin is not subscriptable.
    _ModelAdmin = admin.ModelAdmin[Any]
else:
    _ModelAdmin = object


class StepUpAdminMixin(_ModelAdmin):
    """A ModelAdmin whose add and change pages write deciding things (tenants.deciding): saving them needs
    a recent second factor, as the pages and the API do."""

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refused = admin_step_up(request)
        if refused is not None:
            return refused
        return super().changeform_view(request, *args, **kwargs)
