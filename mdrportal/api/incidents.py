"""API views for the catalog, incidents, actions, decisions, timelines, performers and connectors.

Every write goes through incidents.services or tenants.services; reads are scoped by the selectors, so
another tenant's object is a 404. A detection pipeline's integration key opens incidents, proposes actions,
reads the catalog and what it opened (mdrportal.api.integration_keys), nothing else.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
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

from escalation.runs.lifecycle import incident_change_status
from incidents.actions import action_cancel, action_propose
from incidents.authorizations import authorization_record
from incidents.case_file import CASE_FILE_FIELDS, incident_edit
from incidents.idempotency import KEY_MAX, KeyReused, incident_open_once, key_check
from incidents.models import ActionType, Authorization, Channel, Incident, ResponseAction, TimelineEvent
from incidents.queue import queue_view
from incidents.selectors import (
    authorization_text,
    incident_timeline,
    incidents_for_integration_key,
    incidents_for_user,
)
from incidents.services import incident_open
from mdrportal.api.deciding import decision_check
from mdrportal.api.errors import service_errors
from mdrportal.api.incident_serializers import (
    ActionSerializer,
    ActionTypeSerializer,
    CancelSerializer,
    DecisionSerializer,
    IncidentFilterSerializer,
    IncidentSerializer,
    IncidentStatusSerializer,
    TimelineEventSerializer,
)
from mdrportal.api.integration_keys import (
    READ,
    READ_AND_CREATE,
    integration_key_of,
    require_key_acts_for,
)
from mdrportal.api.permissions import require_staff, signed_in_user
from mdrportal.core.client_address import client_address
from mdrportal.core.pagination import IncidentPages, TimelinePages
from tenants.deciding import AUTHORIZE, DECLINE

IDEMPOTENCY_HEADER = "Idempotency-Key"

_detail = inline_serializer("Detail", fields={"detail": serializers.CharField()})
_closed = OpenApiResponse(_detail, description="The incident is resolved or closed")


def visible_incidents(request: Request) -> QuerySet[Incident]:
    """The incidents the caller may see: a person's tenants', or those a pipeline's key opened."""
    key = integration_key_of(request)
    return incidents_for_user(request.user) if key is None else incidents_for_integration_key(key)


def visible_incident(request: Request, incident_id: int) -> Incident:
    return get_object_or_404(visible_incidents(request), pk=incident_id)


@extend_schema(summary="The action catalog")
class ActionTypeListView(generics.ListAPIView[ActionType]):
    integration_key_methods = READ
    serializer_class = ActionTypeSerializer
    queryset = ActionType.objects.select_related("revert").order_by("category", "name", "code")


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
        "incident it opened (with `Idempotent-Replayed: true`); the same key with another request is a 422. "
        "An integration key opens incidents for the tenants it names only (another tenant is a 403).",
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=False,
                description=f"A unique key per incident you open (at most {KEY_MAX} characters), "
                "for example your detection's id.",
            )
        ],
        responses={201: IncidentSerializer, 422: OpenApiResponse(_detail, description="Key reused")},
    ),
    partial_update=extend_schema(
        summary="Change the incident's status or its case file (MDR staff)",
        description="The case file (title, severity, summary, observed activity, recommendations) changes field "
        "by field, each a timeline event with who, before and after; customers read the new text at once. "
        "The status: `contained`, `resolved`, `closed` or `open`, as the transition table allows. Resolving or "
        "closing stops the notification (calls in progress are hung up), cancels actions that wait for "
        "authorization or are queued, and refuses later decisions and links with a 409. Reopening restarts "
        "nothing by itself.",
        request=IncidentStatusSerializer,
        responses={200: IncidentSerializer},
    ),
)
class IncidentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet[Incident],
):
    serializer_class = IncidentSerializer
    pagination_class = IncidentPages
    integration_key_methods = READ_AND_CREATE  # a key never changes an incident's status

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incident = self.get_object()
        user = signed_in_user(request)
        require_staff(user, "incidents.change_incident", "change an incident's status or case file")
        serializer = IncidentStatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        case_file = {name: data[name] for name in CASE_FILE_FIELDS if name in data}
        with service_errors():
            if case_file:
                incident_edit(incident=incident, by=user, channel=Channel.API, **case_file)
            if "status" in data:
                incident = incident_change_status(
                    incident=incident,
                    status=data["status"],
                    reason=data["reason"],
                    by=user,
                    channel=Channel.API,
                )
        incident.refresh_from_db()
        return Response(IncidentSerializer(incident, context={"request": request}).data)

    def get_queryset(self) -> QuerySet[Incident]:
        incidents = visible_incidents(self.request).order_by("-opened_at", "-id")
        if self.action != "list":
            return incidents
        filters = IncidentFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        lookups = {
            "tenant": "tenant_id",
            "status": "status__in",
            "severity": "severity__in",
            "opened_after": "opened_at__gte",
            "opened_before": "opened_at__lt",
        }
        chosen = dict(filters.validated_data)
        view = chosen.pop("view", None)
        if view is not None:
            incidents = self._queue_view(incidents, view)
        return incidents.filter(**{lookups[name]: value for name, value in chosen.items()})

    def _queue_view(self, incidents: QuerySet[Incident], view: str) -> QuerySet[Incident]:
        """One saved view of the analysts' queue. A pipeline's key is no person and owns no incident: its
        `mine` is empty (not the incidents nobody owns)."""
        user = self.request.user
        if isinstance(user, AnonymousUser):
            return incidents.none() if view == "mine" else queue_view(incidents, view, user=None)
        return queue_view(incidents, view, user=user)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        integration_key = integration_key_of(request)
        if integration_key is None:
            require_staff(request.user, "incidents.add_incident", "open incidents")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if integration_key is not None:
            require_key_acts_for(integration_key, data["tenant"])
        by = None if integration_key else signed_in_user(request)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        with service_errors():
            if key is None:
                incident = incident_open(channel=Channel.API, by=by, integration_key=integration_key, **data)
                replayed = False
            else:
                key = key_check(key, field=IDEMPOTENCY_HEADER)
                try:
                    incident, replayed = incident_open_once(
                        key=key, channel=Channel.API, fields=data, by=by, integration_key=integration_key
                    )
                except KeyReused as reused:
                    return Response({"detail": str(reused)}, status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        headers = {"Idempotent-Replayed": "true"} if replayed else {}
        return Response(IncidentSerializer(incident).data, status=status.HTTP_201_CREATED, headers=headers)


@extend_schema_view(
    get=extend_schema(summary="The incident's actions (everyone in the tenant)"),
    post=extend_schema(
        summary="Propose an action (MDR staff, detection pipelines on the incidents they opened)",
        description="The gate decides at once: the action is queued (Authorize mode), awaits the customer's "
        "written authorization, or is recommended to the customer or the partner.",
    ),
)
class IncidentActionsView(generics.ListCreateAPIView[ResponseAction]):
    serializer_class = ActionSerializer
    integration_key_methods = READ_AND_CREATE

    def get_queryset(self) -> QuerySet[ResponseAction]:
        incident = visible_incident(self.request, self.kwargs["incident_id"])
        return (
            incident.actions.select_related("action_type")
            .prefetch_related("observables")
            .order_by("proposed_at", "id")
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incident = visible_incident(request, kwargs["incident_id"])
        # A key sees only the incidents it opened for its tenants: the incident found is its scope.
        integration_key = integration_key_of(request)
        if integration_key is None:
            require_staff(request.user, "incidents.add_responseaction", "propose actions")
        serializer = ActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            action = action_propose(
                incident=incident,
                action_type=serializer.validated_data["action_type"],
                target=serializer.validated_data["target"],
                by=None if integration_key else signed_in_user(request),
                integration_key=integration_key,
                channel=Channel.API,
            )
        return Response(ActionSerializer(action).data, status=status.HTTP_201_CREATED)


@extend_schema(
    summary="The incident's timeline: every fact in order",
    description="In pages of 50, oldest first: follow `next` (an opaque `cursor`). A page has no `count`.",
)
class IncidentTimelineView(generics.ListAPIView[TimelineEvent]):
    serializer_class = TimelineEventSerializer
    pagination_class = TimelinePages

    def get_queryset(self) -> QuerySet[TimelineEvent]:
        return incident_timeline(visible_incident(self.request, self.kwargs["incident_id"]))


def _visible_actions(request: Request) -> QuerySet[ResponseAction]:
    return (
        ResponseAction.objects.filter(incident__in=visible_incidents(request))
        .select_related("action_type", "incident__tenant")
        .prefetch_related("observables")
    )


@extend_schema(summary="One action")
class ActionView(generics.RetrieveAPIView[ResponseAction]):
    serializer_class = ActionSerializer
    integration_key_methods = READ

    def get_queryset(self) -> QuerySet[ResponseAction]:
        return _visible_actions(self.request)


class ActionDecisionView(generics.GenericAPIView[ResponseAction]):
    """The customer's written decision on one action awaiting authorization (DESIGN rule 4, channel api)."""

    serializer_class = DecisionSerializer
    decision: str = Authorization.Decision.GRANTED

    def get_queryset(self) -> QuerySet[ResponseAction]:
        return _visible_actions(self.request)

    @extend_schema(responses={200: ActionSerializer, 409: _closed})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        action = self.get_object()
        incident = action.incident
        operation = AUTHORIZE if self.decision == Authorization.Decision.GRANTED else DECLINE
        decision_check(request, tenant=incident.tenant, operation=operation)
        serializer = DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            authorization_record(
                incident=incident,
                actions=[action],
                decision=self.decision,
                channel=Channel.API,
                user=signed_in_user(request),
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
class ActionCancelView(generics.GenericAPIView[ResponseAction]):
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
                by=signed_in_user(request),
                reason=serializer.validated_data["reason"],
                channel=Channel.API,
            )
        return Response(ActionSerializer(canceled).data)
