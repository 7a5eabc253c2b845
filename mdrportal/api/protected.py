"""API views of a tenant's protected assets: what MDR Ops never acts on without the customer's written
authorization. Everyone who sees the tenant reads them; changing them is deciding (tenants.deciding)."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mdrportal.api.deciding import decision_check
from mdrportal.api.errors import service_errors
from mdrportal.api.permissions import signed_in_user
from mdrportal.api.tenants import visible_tenant
from tenants.deciding import PROTECTED_ASSETS
from tenants.models import Partner
from tenants.protected_models import ProtectedKind, ProtectedTarget
from tenants.protected_services import protected_target_add, protected_target_remove
from tenants.selectors import protected_targets


class ProtectedTargetSerializer(serializers.ModelSerializer[ProtectedTarget]):
    kind = serializers.ChoiceField(choices=ProtectedKind.choices)
    from_partner: serializers.SlugRelatedField[Partner] = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        help_text="The partner whose default list it comes from; null: the customer's own.",
    )

    class Meta:
        model = ProtectedTarget
        fields = ["id", "kind", "value", "note", "from_partner"]
        read_only_fields = ["id", "from_partner"]
        # The service checks the value for its kind and refuses a duplicate with a field error.
        validators: list[object] = []


class TenantProtectedView(APIView):
    """The tenant's protected hosts, address ranges, accounts and action types."""

    @extend_schema(summary="What the tenant protects", responses={200: ProtectedTargetSerializer(many=True)})
    def get(self, request: Request, tenant_id: int) -> Response:
        tenant = visible_tenant(request, tenant_id)
        return Response(ProtectedTargetSerializer(protected_targets(tenant), many=True).data)

    @extend_schema(
        summary="Protect a host, an address range, an account or an action type (customer admins, MDR staff)",
        description="`host` takes a name or a pattern with * and ? (dc-*); `network` an address or CIDR "
        "range; `account` a name (CORP\\\\jdoe, jdoe@corp.example or jdoe: matched on its bare name); "
        "`action_type` an action type's code, never performed automatically. Applies to incidents opened "
        "after it; audited.",
        request=ProtectedTargetSerializer,
        responses={201: ProtectedTargetSerializer},
    )
    def post(self, request: Request, tenant_id: int) -> Response:
        tenant = visible_tenant(request, tenant_id)
        decision_check(request, tenant=tenant, operation=PROTECTED_ASSETS)
        serializer = ProtectedTargetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            target = protected_target_add(
                tenant=tenant, by=signed_in_user(request), **serializer.validated_data
            )
        return Response(ProtectedTargetSerializer(target).data, status=status.HTTP_201_CREATED)


class ProtectedTargetView(APIView):
    """One protected asset: removing it lets later incidents act on it automatically again."""

    @extend_schema(summary="Stop protecting it (customer admins, MDR staff)", responses={204: None})
    def delete(self, request: Request, tenant_id: int, pk: int) -> Response:
        tenant = visible_tenant(request, tenant_id)
        target = get_object_or_404(ProtectedTarget, pk=pk, tenant=tenant)
        decision_check(request, tenant=tenant, operation=PROTECTED_ASSETS)
        with service_errors():
            protected_target_remove(target=target, by=signed_in_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
