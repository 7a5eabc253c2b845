"""API views of a tenant's response settings that name incidents' things: who performs each action type
(customer admins, MDR staff) and the tenant's EDR connector (MDR staff)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.connector_models import ConnectorConfig
from incidents.connector_settings import connector_configure
from incidents.models import ActionType
from mdrportal.api.deciding import decision_check
from mdrportal.api.errors import field_errors, service_errors
from mdrportal.api.incident_serializers import ConnectorSerializer, PerformerSerializer
from mdrportal.api.permissions import require_staff, signed_in_user
from mdrportal.api.tenants import visible_tenant
from tenants.deciding import CONNECTOR, PERFORMERS
from tenants.models import Tenant
from tenants.performer_services import PerformersRefused, performers_set
from tenants.selectors import performers_of


def _performer_rows(tenant: Tenant) -> list[dict[str, str]]:
    chosen = performers_of(tenant)
    codes = ActionType.objects.order_by("category", "name", "code").values_list("code", flat=True)
    return [{"action_type": code, "performer": chosen.get(code, "mdr")} for code in codes]


class TenantPerformersView(APIView):
    """Who performs each action type under Collaborate: MDR Ops unless the customer chose otherwise."""

    def _rows(self, tenant: Tenant) -> Response:
        return Response(_performer_rows(tenant))

    @extend_schema(summary="Who performs each action type", responses={200: PerformerSerializer(many=True)})
    def get(self, request: Request, tenant_id: int) -> Response:
        return self._rows(visible_tenant(request, tenant_id))

    @extend_schema(
        summary="Choose who performs some action types (customer admins, MDR staff)",
        description="Only the action types listed change; all of them or none. `partner` needs a tenant "
        "served by a partner.",
        request=PerformerSerializer(many=True),
        responses={200: PerformerSerializer(many=True)},
    )
    def patch(self, request: Request, tenant_id: int) -> Response:
        tenant = visible_tenant(request, tenant_id)
        decision_check(request, tenant=tenant, operation=PERFORMERS)
        serializer = PerformerSerializer(data=request.data, many=True)
        serializer.is_valid(raise_exception=True)
        choices = [(row["action_type"].code, row["performer"]) for row in serializer.validated_data]
        try:
            performers_set(tenant=tenant, by=signed_in_user(request), choices=choices)
        except PerformersRefused as refused:
            # Keyed by the row's index, as DRF reports a list's shape errors.
            raise serializers.ValidationError(
                {
                    str(i): field_errors(error, {"action_code": "action_type"})
                    for i, error in refused.errors.items()
                }
            ) from refused
        return self._rows(tenant)


class TenantConnectorView(APIView):
    """The tenant's EDR connector (MDR staff); no row means the simulated connector."""

    def _config(self, tenant: Tenant) -> ConnectorConfig:
        return ConnectorConfig.objects.filter(tenant=tenant).first() or ConnectorConfig(tenant=tenant)

    @extend_schema(
        summary="The tenant's EDR connector (MDR staff; the secret is never shown)",
        responses={200: ConnectorSerializer},
    )
    def get(self, request: Request, tenant_id: int) -> Response:
        tenant = visible_tenant(request, tenant_id)
        require_staff(request.user, "incidents.view_connectorconfig", "see connectors")
        return Response(ConnectorSerializer(self._config(tenant)).data)

    @extend_schema(
        summary="Set the tenant's EDR connector (MDR staff)",
        description="`sophos_central` needs url (the data-region API host), client_id, external_tenant_id "
        "and secret; `webhook` needs url and secret. The secret is write-only: omit it to keep the stored one.",
        request=ConnectorSerializer,
        responses={200: ConnectorSerializer},
    )
    def put(self, request: Request, tenant_id: int) -> Response:
        tenant = visible_tenant(request, tenant_id)
        decision_check(request, tenant=tenant, operation=CONNECTOR)
        serializer = ConnectorSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            config = connector_configure(
                tenant=tenant, by=signed_in_user(request), **serializer.validated_data
            )
        return Response(ConnectorSerializer(config).data)
