"""API views for the catalog, incidents, actions, decisions, timelines, performers and connectors.

Every write goes through incidents.services or tenants.services; reads are scoped by the selectors, so
another tenant's object is a 404.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from escalation.runs.lifecycle import incident_change_status
from incidents.connector_settings import connector_configure
from incidents.models import (
    ActionType,
    Authorization,
    Channel,
    ConnectorConfig,
    IdempotencyKey,
    Incident,
    ResponseAction,
    TimelineEvent,
)
from incidents.selectors import authorization_text, incident_timeline, incidents_for_user
from incidents.services import action_cancel, action_propose, authorization_record, incident_open
from mdrportal.api.auth import require_decision_second_factor
from mdrportal.api.errors import field_errors, service_errors
from mdrportal.api.incident_serializers import (
    ActionSerializer,
    ActionTypeSerializer,
    CancelSerializer,
    ConnectorSerializer,
    DecisionSerializer,
    IncidentFilterSerializer,
    IncidentSerializer,
    IncidentStatusSerializer,
    PerformerSerializer,
    TimelineEventSerializer,
)
from mdrportal.api.permissions import ADMIN_ROLES, DECIDE_ROLES, require_role, require_staff
from mdrportal.api.tenants import visible_tenant
from mdrportal.core.client_address import client_address
from mdrportal.core.pagination import IncidentPages, TimelinePages
from tenants.selectors import performers_of
from tenants.services import performer_set

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX = IdempotencyKey._meta.get_field("key").max_length
KEY_REUSED = (
    "This Idempotency-Key was already used with a different request (it opened incident #{id}). "
    "Send the same request to get that incident again, or use a new key for a new incident."
)

_detail = inline_serializer("Detail", fields={"detail": serializers.CharField()})
_closed = OpenApiResponse(_detail, description="The incident is resolved or closed")


def visible_incident(request: Request, incident_id: int) -> Incident:
    return get_object_or_404(incidents_for_user(request.user), pk=incident_id)


@extend_schema(summary="The action catalog")
class ActionTypeListView(generics.ListAPIView):
    serializer_class = ActionTypeSerializer
    queryset = ActionType.objects.select_related("revert").order_by("category", "name", "code")


def _earlier(user: Any, key: str) -> IdempotencyKey | None:
    return IdempotencyKey.objects.filter(user=user, key=key).select_related("incident").first()


def _fingerprint(data: dict[str, Any]) -> str:
    plain = {k: v.pk if isinstance(v, Model) else v for k, v in data.items()}
    return hashlib.sha256(json.dumps(plain, sort_keys=True, default=str).encode()).hexdigest()


@extend_schema_view(
    list=extend_schema(
        summary="Incidents of the tenants you may see, newest first",
        description="In pages of 50: follow `next` (an opaque `cursor`) for older incidents. A page has no "
        "`count`: counting every incident made the last pages slow.",
        parameters=[IncidentFilterSerializer],
    ),
    retrieve=extend_schema(summary="One incident"),
    create=extend_schema(
        summary="Open an incident (MDR staff, detection pipelines)",
        description="The tenant's response policy as it is now is snapshotted on the incident. Send an "
        "`Idempotency-Key` so that a retried POST opens one incident: the same key and request return the "
        "incident it opened (with `Idempotent-Replayed: true`); the same key with another request is a 422.",
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description=f"A unique key per incident you open (at most {IDEMPOTENCY_KEY_MAX} characters), "
                "for example your detection's id.",
            )
        ],
        responses={201: IncidentSerializer, 422: OpenApiResponse(_detail, description="Key reused")},
    ),
    partial_update=extend_schema(
        summary="Change the incident's status (MDR staff)",
        description="`contained`, `resolved`, `closed` or `open`, as the transition table allows. Resolving or "
        "closing stops the notification (calls in progress are hung up), cancels actions that wait for "
        "authorization or are queued, and refuses later decisions and links with a 409. Reopening restarts "
        "nothing by itself.",
        request=IncidentStatusSerializer,
        responses={200: IncidentSerializer},
    ),
)
class IncidentViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    serializer_class = IncidentSerializer
    pagination_class = IncidentPages

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incident = self.get_object()
        require_staff(request.user, "incidents.change_incident", "change an incident's status")
        serializer = IncidentStatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            changed = incident_change_status(
                incident=incident,
                status=serializer.validated_data["status"],
                reason=serializer.validated_data["reason"],
                by=request.user,
                channel=Channel.API,
            )
        return Response(IncidentSerializer(changed).data)

    def get_queryset(self) -> QuerySet[Incident]:
        incidents = incidents_for_user(self.request.user).order_by("-opened_at", "-id")
        if self.action != "list":
            return incidents
        filters = IncidentFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        lookups = {
            "tenant": "tenant_id",
            "status": "status",
            "severity": "severity",
            "opened_after": "opened_at__gte",
            "opened_before": "opened_at__lt",
        }
        return incidents.filter(**{lookups[name]: value for name, value in filters.validated_data.items()})

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        require_staff(request.user, "incidents.add_incident", "open incidents")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            with service_errors():
                incident = incident_open(by=request.user, channel=Channel.API, **data)
            return Response(IncidentSerializer(incident).data, status=status.HTTP_201_CREATED)
        key = key.strip()
        if not key or len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable():
            raise serializers.ValidationError(
                {IDEMPOTENCY_HEADER: [f"Give between 1 and {IDEMPOTENCY_KEY_MAX} printable characters."]}
            )
        fingerprint = _fingerprint(data)
        earlier = _earlier(request.user, key)
        if earlier is None:
            try:
                with service_errors(), transaction.atomic():
                    incident = incident_open(by=request.user, channel=Channel.API, **data)
                    IdempotencyKey.objects.create(
                        user=request.user, key=key, fingerprint=fingerprint, incident=incident
                    )
                return Response(IncidentSerializer(incident).data, status=status.HTTP_201_CREATED)
            except IntegrityError:
                # A concurrent retry with the same key committed first; its incident is the one.
                earlier = _earlier(request.user, key)
                if earlier is None:
                    raise
        if earlier.fingerprint != fingerprint:
            return Response(
                {"detail": KEY_REUSED.format(id=earlier.incident_id)},
                status=status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        return Response(
            IncidentSerializer(earlier.incident).data,
            status=status.HTTP_201_CREATED,
            headers={"Idempotent-Replayed": "true"},
        )


@extend_schema_view(
    get=extend_schema(summary="The incident's actions (everyone in the tenant)"),
    post=extend_schema(
        summary="Propose an action (MDR staff)",
        description="The gate decides at once: the action is queued (Authorize mode), awaits the customer's "
        "written authorization, or is recommended to the customer or the partner.",
    ),
)
class IncidentActionsView(generics.ListCreateAPIView):
    serializer_class = ActionSerializer

    def get_queryset(self) -> QuerySet[ResponseAction]:
        incident = visible_incident(self.request, self.kwargs["incident_id"])
        return incident.actions.select_related("action_type").order_by("proposed_at", "id")

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incident = visible_incident(request, kwargs["incident_id"])
        require_staff(request.user, "incidents.add_responseaction", "propose actions")
        serializer = ActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            action = action_propose(
                incident=incident,
                action_type=serializer.validated_data["action_type"],
                target=serializer.validated_data["target"],
                by=request.user,
                channel=Channel.API,
            )
        return Response(ActionSerializer(action).data, status=status.HTTP_201_CREATED)


@extend_schema(
    summary="The incident's timeline: every fact in order",
    description="In pages of 50, oldest first: follow `next` (an opaque `cursor`). A page has no `count`.",
)
class IncidentTimelineView(generics.ListAPIView):
    serializer_class = TimelineEventSerializer
    pagination_class = TimelinePages

    def get_queryset(self) -> QuerySet[TimelineEvent]:
        return incident_timeline(visible_incident(self.request, self.kwargs["incident_id"]))


def _visible_actions(request: Request) -> QuerySet[ResponseAction]:
    return ResponseAction.objects.filter(incident__in=incidents_for_user(request.user)).select_related(
        "action_type", "incident__tenant"
    )


@extend_schema(summary="One action")
class ActionView(generics.RetrieveAPIView):
    serializer_class = ActionSerializer

    def get_queryset(self) -> QuerySet[ResponseAction]:
        return _visible_actions(self.request)


class ActionDecisionView(generics.GenericAPIView):
    """The customer's written decision on one action awaiting authorization (DESIGN rule 4, channel api)."""

    serializer_class = DecisionSerializer
    decision: str = Authorization.Decision.GRANTED

    def get_queryset(self) -> QuerySet[ResponseAction]:
        return _visible_actions(self.request)

    @extend_schema(responses={200: ActionSerializer, 409: _closed})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        action = self.get_object()
        incident = action.incident
        require_role(request.user, incident.tenant, DECIDE_ROLES, "authorize or decline actions")
        require_decision_second_factor(request)
        serializer = DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            authorization_record(
                incident=incident,
                actions=[action],
                decision=self.decision,
                channel=Channel.API,
                user=request.user,
                text_shown=authorization_text(incident, [action]),
                statement=serializer.validated_data["statement"],
                ip_address=client_address(request),
                user_agent=request.headers.get("User-Agent", ""),
            )
        action.refresh_from_db()
        return Response(ActionSerializer(action).data)


@extend_schema_view(
    post=extend_schema(
        summary="Authorize the action in writing (customer approvers)",
        description="Recorded with who, when, the channel `api` and the exact text shown; the action then "
        "goes to execution. Only an action awaiting authorization can be decided on.",
    )
)
class ActionAuthorizeView(ActionDecisionView):
    decision = Authorization.Decision.GRANTED


@extend_schema_view(
    post=extend_schema(
        summary="Decline the action in writing (customer approvers)",
        description="Recorded like an authorization; MDR Ops will not perform the action.",
    )
)
class ActionDeclineView(ActionDecisionView):
    decision = Authorization.Decision.DECLINED


@extend_schema_view(
    post=extend_schema(
        summary="Cancel an action that waits or is queued (MDR staff)",
        description="With a reason, kept on the timeline. A running, finished or declined action cannot be "
        "canceled.",
        request=CancelSerializer,
        responses={200: ActionSerializer},
    )
)
class ActionCancelView(generics.GenericAPIView):
    serializer_class = CancelSerializer

    def get_queryset(self) -> QuerySet[ResponseAction]:
        return _visible_actions(self.request)

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        action = self.get_object()
        require_staff(request.user, "incidents.change_responseaction", "cancel actions")
        serializer = CancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            canceled = action_cancel(
                action=action,
                by=request.user,
                reason=serializer.validated_data["reason"],
                channel=Channel.API,
            )
        return Response(ActionSerializer(canceled).data)


def _performer_rows(tenant: Any) -> list[dict[str, str]]:
    chosen = performers_of(tenant)
    codes = ActionType.objects.order_by("category", "name", "code").values_list("code", flat=True)
    return [{"action_type": code, "performer": chosen.get(code, "mdr")} for code in codes]


class TenantPerformersView(APIView):
    """Who performs each action type under Collaborate: MDR Ops unless the customer chose otherwise."""

    def _rows(self, tenant: Any) -> Response:
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
        require_role(
            request.user,
            tenant,
            ADMIN_ROLES,
            "choose performers",
            staff_perm="tenants.change_actionperformer",
        )
        serializer = PerformerSerializer(data=request.data, many=True)
        serializer.is_valid(raise_exception=True)
        rows = serializer.validated_data
        # Keyed by the row's index, as DRF reports a list's shape errors.
        errors: dict[str, dict[str, list[str]]] = {}
        with transaction.atomic():
            for index, row in enumerate(rows):
                try:
                    with transaction.atomic():
                        performer_set(
                            tenant=tenant,
                            by=request.user,
                            action_code=row["action_type"].code,
                            performer=row["performer"],
                        )
                except DjangoValidationError as error:
                    errors[str(index)] = field_errors(error, {"action_code": "action_type"})
            if errors:
                raise serializers.ValidationError(errors)  # leaving the block undoes the others
        return self._rows(tenant)


class TenantConnectorView(APIView):
    """The tenant's EDR connector (MDR staff); no row means the simulated connector."""

    def _config(self, tenant: Any) -> ConnectorConfig:
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
        require_staff(request.user, "incidents.change_connectorconfig", "set connectors")
        serializer = ConnectorSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            config = connector_configure(tenant=tenant, by=request.user, **serializer.validated_data)
        return Response(ConnectorSerializer(config).data)
