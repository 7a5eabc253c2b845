"""The API's one check before a deciding write (tenants.deciding): 403 for whom the list refuses, and for
a write that decides, 403 unless the credentials passed a second factor recently (mdrportal.api.auth)."""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request

from mdrportal.api.auth import require_decision_second_factor
from tenants.deciding import Operation, deciding_refusal
from tenants.models import Tenant


def decision_check(
    request: Request, *, tenant: Tenant, operation: Operation, changed: Iterable[str] | None = None
) -> None:
    """`changed` names the fields the write changes (None: not known, so it decides)."""
    refused = deciding_refusal(user=request.user, tenant=tenant, operation=operation)
    if refused is not None:
        raise PermissionDenied(refused)
    if operation.decides(changed):
        require_decision_second_factor(request)
