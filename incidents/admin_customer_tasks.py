"""MDR Ops follows the customer's tasks: open ones per incident and per tenant, and waiting since when."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from incidents.admin_response_actions import action_form_page
from incidents.customer_tasks import (
    OPEN_TASK_STATUS,
    TASK_PERFORMERS,
    TASK_STATUSES,
    UNDONE_TASK_STATUSES,
    task_take_over,
)
from incidents.models import CustomerTask, Incident, ResponseAction
from mdrportal.core.admin_readonly import ReadOnlyAdminMixin
from mdrportal.core.users import SignedInRequest

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class OpenTasks(TypedDict):
    """What open_task_counts adds to each incident."""

    open_tasks: int


class TakeOverForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        help_text="Why MDR Ops performs it instead (declined, not done, overdue): kept on the timeline. In "
        "Collaborate mode it then waits for the customer's written authorization.",
    )


class TaskStateFilter(admin.SimpleListFilter):
    title = "task"
    parameter_name = "task"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[CustomerTask]
    ) -> list[tuple[str, str]]:
        return [
            ("undone", "Not done yet (open or marked not done)"),
            ("open", "Open"),
            ("marked", "Marked done or not done"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[CustomerTask]) -> QuerySet[CustomerTask]:
        if self.value() == "undone":
            return queryset.filter(status__in=UNDONE_TASK_STATUSES)
        if self.value() == "open":
            return queryset.filter(status=OPEN_TASK_STATUS)
        if self.value() == "marked":
            return queryset.exclude(status=OPEN_TASK_STATUS)
        return queryset


@admin.register(CustomerTask)
class CustomerTaskAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[CustomerTask]):
    list_display = ["id", "incident", "tenant", "action_type", "target", "performer", "status", "proposed_at"]
    list_filter = [TaskStateFilter, "performer", "incident__tenant"]
    list_select_related = ["incident__tenant", "action_type"]
    search_fields = ["target", "incident__title", "incident__tenant__name"]
    fields = ["incident", "action_type", "target", "performer", "status", "decision_reason", "proposed_at"]
    ordering = ["proposed_at", "id"]
    actions = ["take_over"]

    @admin.action(description="MDR Ops will do it (with a reason)", permissions=["take_over"])
    def take_over(self, request: HttpRequest, queryset: QuerySet[CustomerTask]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one task.", messages.WARNING)
            return None
        return HttpResponseRedirect(
            reverse("admin:incidents_customertask_take_over", args=[queryset.get().pk])
        )

    def take_over_view(self, request: SignedInRequest, pk: int) -> HttpResponse:
        if not self.has_take_over_permission(request):
            raise PermissionDenied
        task = get_object_or_404(
            self.get_queryset(request).select_related("incident__tenant", "action_type"), pk=pk
        )
        form = TakeOverForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                task_take_over(task=task, by=request.user, reason=form.cleaned_data["reason"])
            except ValidationError as error:
                form.add_error(None, error)
            else:
                task.refresh_from_db()
                self.message_user(request, f"MDR Ops takes over {task}: {task.decision_reason}")
                return HttpResponseRedirect(
                    reverse("admin:incidents_incident_change", args=[task.incident_id])
                )
        title = f"MDR Ops will do {task} (#{task.pk}, {task.get_status_display().lower()})"
        return action_form_page(self.admin_site, request, task.incident, form, title)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/take-over/", wrap(self.take_over_view), name="incidents_customertask_take_over"),
            *super().get_urls(),
        ]

    def has_take_over_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("incidents.change_responseaction")

    def get_queryset(self, request: HttpRequest) -> QuerySet[CustomerTask]:
        return super().get_queryset(request).filter(performer__in=TASK_PERFORMERS, status__in=TASK_STATUSES)

    @admin.display(description="tenant", ordering="incident__tenant__name")
    def tenant(self, obj: CustomerTask) -> str:
        return obj.incident.tenant.name


def open_task_counts(incidents: QuerySet[Incident]) -> QuerySet[WithAnnotations[Incident, OpenTasks]]:
    """Each incident with `open_tasks`: how many of its tasks nobody has done yet (open, or marked not done:
    those above all need an analyst)."""
    counted = (
        ResponseAction.objects.filter(
            incident=OuterRef("pk"), performer__in=TASK_PERFORMERS, status__in=UNDONE_TASK_STATUSES
        )
        .values("incident")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return incidents.annotate(open_tasks=Coalesce(Subquery(counted), 0))


def open_tasks_link(incident: WithAnnotations[Incident, OpenTasks]) -> str:
    """The incident's open tasks as a link to their list, or a dash."""
    if not incident.open_tasks:
        return "-"
    query = urlencode({"incident": str(incident.pk), "task": "undone"})
    url = f"{reverse('admin:incidents_customertask_changelist')}?{query}"
    return format_html('<a href="{}">{}</a>', url, incident.open_tasks)
