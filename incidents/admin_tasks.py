"""MDR Ops follows the customer's tasks: open ones per incident and per tenant, and waiting since when."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from incidents.customer_tasks import OPEN_TASK_STATUS, TASK_PERFORMERS, TASK_STATUSES
from incidents.models import CustomerTask, Incident, ResponseAction
from mdrportal.core.admin_readonly import ReadOnlyAdminMixin


class TaskStateFilter(admin.SimpleListFilter):
    title = "task"
    parameter_name = "task"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("open", "Open"), ("marked", "Marked done or not done")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[CustomerTask]) -> QuerySet[CustomerTask]:
        if self.value() == "open":
            return queryset.filter(status=OPEN_TASK_STATUS)
        if self.value() == "marked":
            return queryset.exclude(status=OPEN_TASK_STATUS)
        return queryset


@admin.register(CustomerTask)
class CustomerTaskAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["id", "incident", "tenant", "action_type", "target", "performer", "status", "proposed_at"]
    list_filter = [TaskStateFilter, "performer", "incident__tenant"]
    list_select_related = ["incident__tenant", "action_type"]
    search_fields = ["target", "incident__title", "incident__tenant__name"]
    fields = ["incident", "action_type", "target", "performer", "status", "decision_reason", "proposed_at"]
    ordering = ["proposed_at", "id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CustomerTask]:
        return super().get_queryset(request).filter(performer__in=TASK_PERFORMERS, status__in=TASK_STATUSES)

    @admin.display(description="tenant", ordering="incident__tenant__name")
    def tenant(self, obj: CustomerTask) -> str:
        return obj.incident.tenant.name


def open_task_counts(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """Each incident with `open_tasks`: how many of its tasks the customer or partner has not marked yet."""
    counted = (
        ResponseAction.objects.filter(
            incident=OuterRef("pk"), performer__in=TASK_PERFORMERS, status=OPEN_TASK_STATUS
        )
        .values("incident")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return incidents.annotate(open_tasks=Coalesce(Subquery(counted), 0))


def open_tasks_link(incident: Incident) -> str:
    """The incident's open tasks as a link to their list, or a dash."""
    if not incident.open_tasks:  # type: ignore[attr-defined]
        return "-"
    query = urlencode({"incident": incident.pk, "task": "open"})
    url = f"{reverse('admin:incidents_customertask_changelist')}?{query}"
    return format_html('<a href="{}">{}</a>', url, incident.open_tasks)  # type: ignore[attr-defined]
