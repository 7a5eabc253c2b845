"""API views of a partner's console: the customers it serves with their counts, their incidents in one list,
and the tasks given to the partner across them, each in cursor pages.

The partner is looked up among the caller's (MDR staff: any), so another partner's console is a 404, as its
defaults are. Reads only: tasks are marked through /tasks/<id>/, incidents read through /incidents/<id>/.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from django.db.models import Model, QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers

from incidents.models import ActionStatus, Incident, IncidentStatus, ResponseAction, Severity
from incidents.partner_console import (
    partner_incidents,
    partner_tasks,
    served_customers,
    served_customers_with_counts,
)
from mdrportal.api.incident_serializers import IncidentSerializer
from mdrportal.api.tasks import OPEN, STATUS_FILTERS, TaskSerializer
from mdrportal.core.pagination import IncidentPages, PartnerCustomerPages, PartnerTaskPages
from tenants.models import Partner, Tenant
from tenants.partner_defaults import partner_of_user

# What a console view lists: customers, incidents or tasks.
_M = TypeVar("_M", bound=Model)

NOT_SERVED = "Not a customer of this partner."


class ConsoleCustomerSerializer(serializers.ModelSerializer[Tenant]):
    active_incidents = serializers.IntegerField(
        source="active", read_only=True, help_text="Open or contained."
    )
    waiting_on_customer = serializers.IntegerField(
        source="waiting",
        read_only=True,
        help_text="Active incidents with an action awaiting written authorization or an open task.",
    )
    partner_tasks = serializers.IntegerField(read_only=True, help_text="Open tasks the partner performs.")
    flagged = serializers.IntegerField(read_only=True, help_text="Active incidents flagged for analysts.")

    class Meta:
        model = Tenant
        fields = ["id", "name", "slug", "active_incidents", "waiting_on_customer", "partner_tasks", "flagged"]
        read_only_fields = fields


class ConsoleIncidentSerializer(IncidentSerializer):
    tenant_name = serializers.CharField(source="tenant.name", read_only=True)
    waiting_since = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="Since when MDR Ops waits for the customer on this active incident; null: nothing waits.",
    )

    class Meta(IncidentSerializer.Meta):
        fields = [*IncidentSerializer.Meta.fields, "tenant_name", "waiting_since"]
        read_only_fields = fields


class ConsoleTaskSerializer(TaskSerializer):
    tenant_name = serializers.CharField(source="incident.tenant.name", read_only=True)

    class Meta(TaskSerializer.Meta):
        fields = [*TaskSerializer.Meta.fields, "tenant_name"]
        read_only_fields = fields


class _ServedFilter(serializers.Serializer[Any]):
    """The one customer to narrow to, among those the partner serves."""

    tenant = serializers.PrimaryKeyRelatedField(
        queryset=Tenant.objects.none(),
        required=False,
        help_text="One customer's id.",
        error_messages={"does_not_exist": NOT_SERVED, "incorrect_type": "A customer id is a number."},
    )

    def __init__(self, *args: Any, partner: Partner | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if partner is not None:
            # The field declared above.
            tenant = cast("serializers.PrimaryKeyRelatedField[Tenant]", self.fields["tenant"])
            tenant.queryset = served_customers(partner)


class ConsoleIncidentFilterSerializer(_ServedFilter):
    status = serializers.ChoiceField(choices=IncidentStatus.choices, required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    needs_attention = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Flagged for analysts, or not."
    )


class ConsoleTaskFilterSerializer(_ServedFilter):
    status = serializers.ChoiceField(
        choices=STATUS_FILTERS, required=False, help_text="Open or marked tasks."
    )


class _PartnerConsoleView(generics.ListAPIView[_M]):
    def partner(self) -> Partner:
        partner, _ = partner_of_user(self.request.user, self.kwargs["slug"])
        if partner is None:
            raise Http404("No such partner.")
        return partner

    def filters(self, serializer_class: type[_ServedFilter], partner: Partner) -> dict[str, Any]:
        found = serializer_class(data=self.request.query_params, partner=partner)
        found.is_valid(raise_exception=True)
        return dict(found.validated_data)


@extend_schema_view(
    get=extend_schema(summary="The customers a partner serves, with their counts (its people, MDR staff)")
)
class PartnerCustomersView(_PartnerConsoleView[Tenant]):
    serializer_class = ConsoleCustomerSerializer
    pagination_class = PartnerCustomerPages

    def get_queryset(self) -> QuerySet[Tenant]:
        return served_customers_with_counts(self.partner())


@extend_schema_view(
    get=extend_schema(
        summary="The incidents of every customer a partner serves, newest first",
        parameters=[ConsoleIncidentFilterSerializer],
    )
)
class PartnerIncidentsView(_PartnerConsoleView[Incident]):
    serializer_class = ConsoleIncidentSerializer
    pagination_class = IncidentPages

    def get_queryset(self) -> QuerySet[Incident]:
        partner = self.partner()
        return partner_incidents(partner, **self.filters(ConsoleIncidentFilterSerializer, partner))


@extend_schema_view(
    get=extend_schema(
        summary="The tasks a partner performs across its customers, open ones first",
        parameters=[ConsoleTaskFilterSerializer],
    )
)
class PartnerTasksView(_PartnerConsoleView[ResponseAction]):
    serializer_class = ConsoleTaskSerializer
    pagination_class = PartnerTaskPages

    def get_queryset(self) -> QuerySet[ResponseAction]:
        partner = self.partner()
        chosen = self.filters(ConsoleTaskFilterSerializer, partner)
        if chosen.get("status") == OPEN:
            chosen["status"] = ActionStatus.RECOMMENDED
        return partner_tasks(partner, **chosen)
