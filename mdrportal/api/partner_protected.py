"""API views of a partner's default protected assets, and of whether a customer inherits that list.

The partner's people read the list; its admins (and MDR staff) change it, with a recent second factor: it
decides for every customer that inherits it. A customer adds its own targets on top (mdrportal.api.protected)
and stops inheriting the list only by saying so here."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mdrportal.api.auth import require_decision_second_factor
from mdrportal.api.deciding import decision_check
from mdrportal.api.errors import service_errors
from mdrportal.api.partners import partner_in_view
from mdrportal.api.permissions import signed_in_user
from mdrportal.api.tenants import visible_tenant
from tenants.deciding import PROTECTED_ASSETS
from tenants.partner_default_models import PartnerProtectedTarget
from tenants.partner_protected import (
    partner_protected_add,
    partner_protected_of,
    partner_protected_remove,
    tenant_protected_inherit,
    tenant_protected_opt_out,
)
from tenants.protected_models import ProtectedKind
from tenants.protected_services import partner_list_inherited


class PartnerProtectedSerializer(serializers.ModelSerializer[PartnerProtectedTarget]):
    kind = serializers.ChoiceField(choices=ProtectedKind.choices)

    class Meta:
        model = PartnerProtectedTarget
        fields = ["id", "kind", "value", "note"]
        read_only_fields = ["id"]
        validators: list[object] = []  # the service checks the value and refuses a duplicate


class PartnerListSerializer(serializers.Serializer[Any]):
    inherits = serializers.BooleanField(
        help_text="Whether the customer takes its partner's protected-asset list (on top of its own)."
    )


class PartnerProtectedView(APIView):
    """The partner's default protected assets."""

    @extend_schema(
        summary="A partner's default protected assets (its people, MDR staff)",
        responses={200: PartnerProtectedSerializer(many=True)},
    )
    def get(self, request: Request, slug: str) -> Response:
        partner = partner_in_view(request, slug)
        return Response(PartnerProtectedSerializer(partner_protected_of(partner), many=True).data)

    @extend_schema(
        summary="Add to a partner's default protected assets (its admins, MDR staff)",
        description="Every customer that lets the partner manage its settings and did not opt out of the "
        "list protects it at once (for incidents opened after it), each on its settings history.",
        request=PartnerProtectedSerializer,
        responses={201: PartnerProtectedSerializer},
    )
    def post(self, request: Request, slug: str) -> Response:
        partner = partner_in_view(request, slug, write=True)
        serializer = PartnerProtectedSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        require_decision_second_factor(request)
        with service_errors():
            default = partner_protected_add(
                partner=partner, by=signed_in_user(request), **serializer.validated_data
            )
        return Response(PartnerProtectedSerializer(default).data, status=status.HTTP_201_CREATED)


class PartnerProtectedTargetView(APIView):
    """One of the partner's default protected assets."""

    @extend_schema(summary="Take it off the partner's list (its admins, MDR staff)", responses={204: None})
    def delete(self, request: Request, slug: str, pk: int) -> Response:
        partner = partner_in_view(request, slug, write=True)
        default = get_object_or_404(PartnerProtectedTarget, pk=pk, partner=partner)
        require_decision_second_factor(request)
        partner_protected_remove(default=default, by=signed_in_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class TenantPartnerListView(APIView):
    """Whether the customer inherits its partner's protected-asset list."""

    @extend_schema(
        summary="Whether the customer inherits its partner's list", responses={200: PartnerListSerializer}
    )
    def get(self, request: Request, tenant_id: int) -> Response:
        tenant = visible_tenant(request, tenant_id)
        return Response({"inherits": partner_list_inherited(tenant)})

    @extend_schema(
        summary="Inherit the partner's protected-asset list, or opt out of it (customer admins, MDR staff)",
        description="Opting out drops what only the partner's list protected; the customer's own targets "
        "stay. Inheriting again protects everything on the list at once.",
        request=PartnerListSerializer,
        responses={200: PartnerListSerializer},
    )
    def put(self, request: Request, tenant_id: int) -> Response:
        tenant = visible_tenant(request, tenant_id)
        serializer = PartnerListSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        decision_check(request, tenant=tenant, operation=PROTECTED_ASSETS)
        write = (
            tenant_protected_inherit if serializer.validated_data["inherits"] else tenant_protected_opt_out
        )
        with service_errors():
            write(tenant=tenant, by=signed_in_user(request))
        return Response({"inherits": partner_list_inherited(tenant)})
