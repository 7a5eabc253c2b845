"""The customer's tasks in the portal: what MDR Ops recommended to the customer's team or its partner, and
a form to mark each done or not done with a note. Partner users act for the tenant they chose."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from incidents.customer_tasks import (
    NOTE_MAX_LENGTH,
    OPEN_TASK_STATUS,
    performers_marked_by,
    task_mark,
    tasks_for_user,
    tenant_tasks,
)
from incidents.models import ActionStatus, Channel, ResponseAction
from mdrportal.core.users import SignedInRequest
from mdrportal.web import access
from mdrportal.web.access import ActingRequest, portal_page, tenant_page
from tenants.models import Tenant


def _page(
    request: SignedInRequest, tenant: Tenant, *, errors: dict[int, list[str]] | None = None, status: int = 200
) -> HttpResponse:
    sides = performers_marked_by(request.user, tenant)
    rows = [
        {
            "task": task,
            "open": task.status == OPEN_TASK_STATUS,
            "markable": task.performer in sides and task.status != ActionStatus.DONE,
            "errors": (errors or {}).get(task.pk, []),
        }
        for task in tenant_tasks(tenant)
    ]
    context = {"section": "tasks", "rows": rows, "note_max_length": NOTE_MAX_LENGTH, "tenant": tenant}
    return render(request, "pages/tasks.html", context, status=status)


@tenant_page()
def task_list(request: ActingRequest) -> HttpResponse:
    """The tenant's tasks, open ones first; the side that performs a task marks it."""
    return _page(request, request.acting.tenant)


@require_POST
@portal_page
def task_mark_view(request: SignedInRequest, pk: int) -> HttpResponse:
    task: ResponseAction = get_object_or_404(tasks_for_user(request.user), pk=pk)
    tenant = access.enter(request, task.incident.tenant).tenant
    done = request.POST.get("done")
    note = request.POST.get("note", "")
    if done not in ("yes", "no"):
        return _page(request, tenant, errors={task.pk: ["Choose done or not done."]}, status=400)
    try:
        task_mark(task=task, by=request.user, done=done == "yes", note=note, channel=Channel.PORTAL)
    except ValidationError as error:
        return _page(request, tenant, errors={task.pk: error.messages}, status=400)
    messages.success(
        request, f"{task} marked {'done' if done == 'yes' else 'not done'}; it is on the timeline."
    )
    return redirect("incidents:tasks")
