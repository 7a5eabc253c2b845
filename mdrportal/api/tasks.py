"""API views for the customer's tasks: list them, and mark one done or not done with a note.

A task is looked up among the tasks of the tenants the user works for: another tenant's task is a 404, as if
it did not exist (its id says nothing). A user of the side that does not perform it is refused with 403.
Writes go through incidents.customer_tasks.task_mark.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.customer_tasks import MARKED_TASK_STATUSES, NOTE_MAX_LENGTH, task_mark, tasks_for_user
from incidents.models import ActionStatus, ActionType, Channel, ResponseAction
from mdrportal.api.errors import service_errors
from mdrportal.api.permissions import signed_in_user

OPEN = "open"
STATUS_FILTERS = (OPEN, *MARKED_TASK_STATUSES)


class TaskSerializer(serializers.ModelSerializer[ResponseAction]):
    tenant = serializers.IntegerField(source="incident.tenant_id", read_only=True)
    action_type: serializers.SlugRelatedField[ActionType] = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    action_name = serializers.CharField(source="action_type.name", read_only=True)
    reason = serializers.CharField(
        source="decision_reason",
        read_only=True,
        help_text="Why it is a task, or who marked it and their note.",
    )

    class Meta:
        model = ResponseAction
        fields = [
            "id",
            "incident",
            "tenant",
            "action_type",
            "action_name",
            "target",
            "performer",
            "status",
            "reason",
            "proposed_at",
            "updated_at",
        ]
        read_only_fields = fields


class TaskMarkSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(
        choices=[(ActionStatus.DONE.value, "Done"), (ActionStatus.NOT_DONE.value, "Not done")],
        help_text="`done`, or `not_done` (with a note saying why).",
    )
    note = serializers.CharField(
        max_length=NOTE_MAX_LENGTH, required=False, allow_blank=True, default="", trim_whitespace=True
    )


@extend_schema_view(
    get=extend_schema(
        summary="The customer's tasks: actions recommended to its team or its partner",
        parameters=[
            OpenApiParameter("status", str, enum=list(STATUS_FILTERS), description="Open or marked tasks."),
            OpenApiParameter("tenant", int, description="One tenant's tasks."),
        ],
    )
)
class TaskListView(generics.ListAPIView[ResponseAction]):
    serializer_class = TaskSerializer

    def get_queryset(self) -> QuerySet[ResponseAction]:
        found = tasks_for_user(signed_in_user(self.request))
        params = self.request.query_params
        status = params.get("status", "")
        if status and status not in STATUS_FILTERS:
            raise serializers.ValidationError({"status": [f"Choose one of {', '.join(STATUS_FILTERS)}."]})
        if status:
            found = found.filter(status=ActionStatus.RECOMMENDED if status == OPEN else status)
        if params.get("tenant"):
            try:
                found = found.filter(incident__tenant_id=int(params["tenant"]))
            except ValueError:
                raise serializers.ValidationError({"tenant": ["A tenant id is a number."]}) from None
        return found


@extend_schema_view(
    get=extend_schema(summary="One task"),
    patch=extend_schema(
        summary="Mark a task done or not done, with a note",
        description="The customer's admins and approvers mark the customer's tasks; the partner's admins and "
        "approvers mark the partner's. Recorded on the incident's timeline with who. A task not done may "
        "later be marked done; a done task is final.",
        request=TaskMarkSerializer,
        responses={200: TaskSerializer},
    ),
)
class TaskView(generics.GenericAPIView[ResponseAction]):
    serializer_class = TaskSerializer

    def _task(self, request: Request, pk: int) -> ResponseAction:
        return get_object_or_404(tasks_for_user(signed_in_user(request)), pk=pk)

    def get(self, request: Request, pk: int) -> Response:
        return Response(TaskSerializer(self._task(request, pk)).data)

    def patch(self, request: Request, pk: int, *args: Any, **kwargs: Any) -> Response:
        task = self._task(request, pk)
        serializer = TaskMarkSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with service_errors():
            marked = task_mark(
                task=task,
                by=signed_in_user(request),
                done=data["status"] == ActionStatus.DONE,
                note=data["note"],
                channel=Channel.API,
            )
        return Response(TaskSerializer(marked).data)
