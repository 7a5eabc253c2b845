"""The incidents changelist as the analysts' queue: saved views with counts, multi-value status and severity
filters (active incidents by default), the owner, the attention flag's reason and age, since when the customer
is waited for, its open tasks, and assigning."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.timesince import timesince

from incidents.admin_customer_tasks import OpenTasks, open_task_counts, open_tasks_link
from incidents.models import ACTIVE_INCIDENT_STATUSES, Incident, IncidentStatus, Severity
from incidents.queue import QUEUE_VIEWS, incident_assign, queue_counts, queue_view_filter
from incidents.waiting import WaitingSince, with_waiting_since
from mdrportal.core.users import SignedInRequest, signed_in_user
from tenants.models import ResponseMode

if TYPE_CHECKING:
    from django.contrib.admin.filters import _ListFilterChoices
    from django_stubs_ext import WithAnnotations

ALL = "all"


class QueueViewFilter(admin.SimpleListFilter):
    """The saved views ("Needs attention", "Unassigned", ...), each with how many active incidents it holds."""

    title = "queue"
    parameter_name = "view"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Incident]) -> list[tuple[str, str]]:
        counts = queue_counts(user=signed_in_user(request))
        return [(key, f"{label} ({counts[key]})") for key, label in QUEUE_VIEWS]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Incident]) -> QuerySet[Incident]:
        view = self.value()
        if view is not None and view in dict(QUEUE_VIEWS):
            return queryset.filter(queue_view_filter(view, user=signed_in_user(request)))
        return queryset


class ResponseModeFilter(admin.SimpleListFilter):
    title = "response mode"
    parameter_name = "mode"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Incident]) -> list[tuple[str, str]]:
        return list(ResponseMode.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Incident]) -> QuerySet[Incident]:
        if self.value() in ResponseMode.values:
            return queryset.filter(policy__response_mode=self.value())
        return queryset


class MultiValueFilter(admin.SimpleListFilter):
    """A filter on one field that takes several values, comma-separated (`?status=open,contained`); each
    choice toggles its value in the set."""

    parameter_name: str
    field: str
    choices_of: list[tuple[str, str]]

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Incident]) -> list[tuple[str, str]]:
        return list(self.choices_of)

    def selected(self) -> list[str]:
        allowed = {value for value, _ in self.choices_of}
        return [v for v in (self.value() or "").split(",") if v in allowed]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Incident]) -> QuerySet[Incident]:
        chosen = self.selected()
        return queryset.filter(**{f"{self.field}__in": chosen}) if chosen else queryset

    def choices(self, changelist: ChangeList) -> Iterator[_ListFilterChoices]:
        chosen = self.selected()
        yield {
            "selected": not chosen,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "All",
        }
        for value, label in self.lookup_choices:
            toggled = [v for v in chosen if v != value] if value in chosen else [*chosen, value]
            query = (
                changelist.get_query_string({self.parameter_name: ",".join(toggled)})
                if toggled
                else changelist.get_query_string(remove=[self.parameter_name])
            )
            yield {"selected": value in chosen, "query_string": query, "display": label}


class SeverityFilter(MultiValueFilter):
    title = "severity"
    parameter_name = "severity"
    field = "severity"
    choices_of = list(Severity.choices)


class StatusFilter(MultiValueFilter):
    """Active incidents (open, contained) unless the analyst asks for other statuses or for all."""

    title = "status"
    parameter_name = "status"
    field = "status"
    choices_of = list(IncidentStatus.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Incident]) -> QuerySet[Incident]:
        if self.value() == ALL:
            return queryset
        if not self.selected():
            return queryset.filter(status__in=ACTIVE_INCIDENT_STATUSES)
        return super().queryset(request, queryset)

    def choices(self, changelist: ChangeList) -> Iterator[_ListFilterChoices]:
        chosen = self.selected()
        yield {
            "selected": not chosen and self.value() != ALL,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Active",
        }
        yield {
            "selected": self.value() == ALL,
            "query_string": changelist.get_query_string({self.parameter_name: ALL}),
            "display": "All",
        }
        yield from list(super().choices(changelist))[1:]


class QueueColumns(admin.ModelAdmin[Incident]):
    """The queue's columns and its assign action, a base of the incidents' ModelAdmin."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Incident]:
        return open_task_counts(with_waiting_since(super().get_queryset(request)))

    @admin.display(
        description="waiting for the customer since", ordering=F("waiting_since").asc(nulls_last=True)
    )
    def waiting_since(self, obj: WithAnnotations[Incident, WaitingSince]) -> datetime | None:
        return obj.waiting_since

    @admin.display(description="open customer tasks", ordering="open_tasks")
    def open_tasks(self, obj: WithAnnotations[Incident, OpenTasks]) -> str:
        return open_tasks_link(obj)

    @admin.display(description="owner", ordering="owner__username")
    def owner_display(self, obj: Incident) -> str:
        return obj.owner.get_username() if obj.owner is not None else "—"

    @admin.display(description="needs attention", ordering="attention_since")
    def attention(self, obj: Incident) -> str:
        if not obj.needs_attention:
            return ""
        if obj.attention_since is None:
            return obj.attention_reason or "Flagged"
        return format_html(
            '{} <span class="attention-since" title="{}">(for {})</span>',
            obj.attention_reason or "Flagged",
            obj.attention_since.isoformat(),
            timesince(obj.attention_since),
        )

    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request: SignedInRequest, queryset: QuerySet[Incident]) -> None:
        assigned = 0
        for incident in queryset.order_by("pk"):
            try:
                incident_assign(incident=incident, owner=request.user, by=request.user)
            except ValidationError as error:
                self.message_user(request, f"{incident}: {' '.join(error.messages)}", messages.WARNING)
            else:
                assigned += 1
        self.message_user(request, f"{assigned} incident(s) assigned to you.")
