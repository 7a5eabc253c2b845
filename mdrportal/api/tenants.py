"""API views for tenants, their contacts and customer logins; every write goes through a tenants service."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, mixins, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mdrportal.api.availability_serializers import availability_apply
from mdrportal.api.deciding import decision_check
from mdrportal.api.errors import service_errors
from mdrportal.api.permissions import is_mdr_staff, require_role, require_staff, signed_in_user
from mdrportal.api.tenant_serializers import (
    CUSTOMER_SETTINGS,
    TENANT_CREATE_ARGS,
    ContactSerializer,
    CustomerLoginSerializer,
    DelegationSerializer,
    TenantSerializer,
    TenantSettingsSerializer,
)
from mdrportal.core.users import User
from tenants.deciding import CONTACT_ADD, CONTACT_CHANGE, MEMBERSHIPS, PARTNER_DELEGATION, RESPONSE_POLICY
from tenants.membership_services import customer_login_create
from tenants.models import Contact, Membership, Tenant
from tenants.rules import ADMINISTERS
from tenants.selectors import tenant_contacts, tenants_for_user
from tenants.services import (
    contact_create,
    contact_update,
    contacts_reorder,
    tenant_create,
    tenant_delegation_set,
    tenant_update_settings,
)


def visible_tenant(request: Request, tenant_id: int) -> Tenant:
    """One of the user's tenants, or a 404: another tenant is never looked up."""
    return get_object_or_404(tenants_for_user(request.user), pk=tenant_id)


@extend_schema_view(
    list=extend_schema(summary="The tenants you may see (all of them for MDR staff)"),
    retrieve=extend_schema(summary="One tenant and its response settings"),
    create=extend_schema(summary="Create a tenant (MDR staff)"),
    partial_update=extend_schema(
        summary="Change response settings",
        description="Customer admins change what the settings page offers: `response_mode`, "
        "`authorize_on_no_ack`, `call_attempts_per_contact`, `ring_timeout_seconds`, `timezone`, "
        "`reminder_minutes` (1 to 1440) and `reminder_count` (1 to 20); MDR "
        "staff also change `name` and `tier`. The fallback checkbox needs an active contact with a phone "
        "number who takes phone calls (`voice` among its channels). Every change is audited.",
    ),
)
class TenantViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet[Tenant]
):
    serializer_class = TenantSerializer

    def get_queryset(self) -> QuerySet[Tenant]:
        return tenants_for_user(self.request.user).order_by("name", "id")

    def get_serializer_class(self) -> type[TenantSerializer]:
        return TenantSettingsSerializer if self.action == "partial_update" else TenantSerializer

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = signed_in_user(request)
        require_staff(user, "tenants.add_tenant", "create tenants")
        serializer = TenantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        settings = dict(serializer.validated_data)
        created = {arg: settings.pop(arg) for arg in TENANT_CREATE_ARGS if arg in settings}
        with service_errors(), transaction.atomic():
            tenant = tenant_create(by=user, **created)
            # A tenant created with its response mode or fallback chosen decides them: refused, nothing is kept.
            decision_check(request, tenant=tenant, operation=RESPONSE_POLICY, changed=[*created, *settings])
            if settings:
                tenant_update_settings(tenant=tenant, by=user, **settings)
        return Response(TenantSerializer(tenant).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        tenant = self.get_object()
        user = signed_in_user(request)
        staff = is_mdr_staff(user, "tenants.change_tenant")
        # Who may: the deciding list's; checked before the input, so that a refusal says nothing of it.
        decision_check(request, tenant=tenant, operation=RESPONSE_POLICY, changed=())
        serializer = TenantSettingsSerializer(tenant, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if not staff:
            # An unchanged value echoed back from a GET is no attempt to change it.
            refused = sorted(
                f for f, v in changes.items() if f not in CUSTOMER_SETTINGS and getattr(tenant, f) != v
            )
            if refused:
                raise PermissionDenied(
                    f"Only MDR staff change {', '.join(refused)}; customer admins change "
                    f"{', '.join(CUSTOMER_SETTINGS)}."
                )
            changes = {f: v for f, v in changes.items() if f in CUSTOMER_SETTINGS}
        changed = [f for f, v in changes.items() if getattr(tenant, f) != v]
        decision_check(request, tenant=tenant, operation=RESPONSE_POLICY, changed=changed)
        with service_errors():
            tenant_update_settings(tenant=tenant, by=user, **changes)
        return Response(TenantSerializer(tenant).data)


# The service names the away periods `away`; the API `away_periods`.
AVAILABILITY_ERRORS = {"away": "away_periods"}


def _move_contact(contact: Contact, tenant: Tenant, position: int, *, by: User) -> None:
    """Put the tenant's contact at this place in the call order (1 is first); the others keep their order."""
    ids = [pk for pk in tenant_contacts(tenant).values_list("pk", flat=True) if pk != contact.pk]
    ids.insert(min(position, len(ids) + 1) - 1, contact.pk)
    contacts_reorder(tenant=tenant, by=by, ordered_ids=ids)
    contact.refresh_from_db(fields=["call_order"])


@extend_schema_view(
    get=extend_schema(summary="The tenant's contacts in call order"),
    post=extend_schema(summary="Add a contact (customer admins, MDR staff)"),
)
class TenantContactsView(generics.ListCreateAPIView[Contact]):
    serializer_class = ContactSerializer

    def get_queryset(self) -> QuerySet[Contact]:
        contacts = tenant_contacts(visible_tenant(self.request, self.kwargs["tenant_id"]))
        return contacts.prefetch_related("windows", "away_periods")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        tenant = visible_tenant(request, kwargs["tenant_id"])
        user = signed_in_user(request)
        decision_check(request, tenant=tenant, operation=CONTACT_ADD)
        serializer = ContactSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        position = fields.pop("call_order", None)
        with service_errors(AVAILABILITY_ERRORS), transaction.atomic():
            availability = {k: fields.pop(k) for k in ("windows", "away_periods") if k in fields}
            contact = contact_create(tenant=tenant, by=user, **fields)
            availability_apply(contact, availability, by=user)
            if position is not None and position != contact.call_order:
                _move_contact(contact, tenant, position, by=user)
        return Response(ContactSerializer(contact).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(summary="One contact"),
    patch=extend_schema(
        summary="Change a contact (customer admins, MDR staff)",
        description="A change that would leave no active contact with a phone number who takes phone "
        "calls while the fallback checkbox is ticked is refused.",
    ),
)
class ContactView(generics.RetrieveUpdateAPIView[Contact]):
    serializer_class = ContactSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Contact]:
        visible = Contact.objects.filter(tenant__in=tenants_for_user(self.request.user))
        return visible.select_related("tenant").prefetch_related("windows", "away_periods")

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        contact = self.get_object()
        tenant = contact.tenant
        assert tenant is not None  # the queryset holds the contacts of the user's tenants only
        user = signed_in_user(request)
        decision_check(request, tenant=tenant, operation=CONTACT_CHANGE, changed=())
        serializer = ContactSerializer(contact, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        changed = [f for f, v in changes.items() if getattr(contact, f, None) != v]
        decision_check(request, tenant=tenant, operation=CONTACT_CHANGE, changed=changed)
        position = changes.pop("call_order", None)
        with service_errors(AVAILABILITY_ERRORS), transaction.atomic():
            availability_apply(contact, changes, by=user)
            if changes:
                contact_update(contact=contact, by=user, **changes)
            if position is not None and position != contact.call_order:
                _move_contact(contact, tenant, position, by=user)
        return Response(ContactSerializer(self.get_queryset().get(pk=contact.pk)).data)


def _login_row(membership: Membership) -> dict[str, Any]:
    user = membership.user
    return {"id": user.pk, "username": user.get_username(), "email": user.email, "role": membership.role}


@extend_schema_view(
    get=extend_schema(summary="The tenant's customer logins and their roles (customer admins, MDR staff)"),
    post=extend_schema(summary="Create a customer login with a role (MDR staff)"),
)
class TenantUsersView(generics.ListCreateAPIView[Membership]):
    serializer_class = CustomerLoginSerializer

    def get_queryset(self) -> QuerySet[Membership]:
        tenant = visible_tenant(self.request, self.kwargs["tenant_id"])
        require_role(
            self.request.user,
            tenant,
            ADMINISTERS,
            "see the tenant's logins",
            staff_perm="tenants.view_membership",
        )
        return Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__username")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None  # every list in the API is paged (DEFAULT_PAGINATION_CLASS)
        return self.get_paginated_response(
            CustomerLoginSerializer([_login_row(m) for m in page], many=True).data
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        tenant = visible_tenant(request, kwargs["tenant_id"])
        user = signed_in_user(request)
        require_staff(user, "auth.add_user", "create customer logins")
        decision_check(request, tenant=tenant, operation=MEMBERSHIPS)
        serializer = CustomerLoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            membership = customer_login_create(tenant=tenant, by=user, **serializer.validated_data)
        return Response(CustomerLoginSerializer(_login_row(membership)).data, status=status.HTTP_201_CREATED)


class TenantDelegationView(APIView):
    """What the customer lets its partner's users do for it (tenants.deciding.Delegation)."""

    @extend_schema(summary="What the tenant's partner may do for it", responses={200: DelegationSerializer})
    def get(self, request: Request, tenant_id: int) -> Response:
        return Response(DelegationSerializer(visible_tenant(request, tenant_id)).data)

    @extend_schema(
        summary="Choose what the tenant's partner may do for it (customer admins; MDR staff with a reason)",
        description="`partner_decides`: the partner's approvers and admins authorize, decline and acknowledge "
        "for the customer; `partner_manages_settings`: the partner's admins change its settings. A partner's "
        "users never change this. Each change is in the settings history, naming the partner.",
        request=DelegationSerializer,
        responses={200: DelegationSerializer},
    )
    def put(self, request: Request, tenant_id: int) -> Response:
        tenant = visible_tenant(request, tenant_id)
        decision_check(request, tenant=tenant, operation=PARTNER_DELEGATION)
        serializer = DelegationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            tenant_delegation_set(tenant=tenant, by=signed_in_user(request), **serializer.validated_data)
        return Response(DelegationSerializer(tenant).data)
