"""API views of the case file: an incident's notes (internal ones for MDR staff only) and its observables."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from incidents.models import Channel, Note, NoteVisibility, Observable, ObservableKind, ResponseAction
from incidents.notes import NOTE_MAX, note_add, notes_for
from incidents.observables import observable_add
from mdrportal.api.errors import service_errors
from mdrportal.api.incidents import visible_incident
from mdrportal.api.permissions import is_mdr_staff, require_staff, signed_in_user
from mdrportal.core.users import User


class NoteSerializer(serializers.ModelSerializer[Note]):
    author: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    body = serializers.CharField(max_length=NOTE_MAX)
    visibility = serializers.ChoiceField(
        choices=NoteVisibility.choices, help_text="`internal`: MDR staff only; `customer`: the customer too."
    )

    class Meta:
        model = Note
        fields = ["id", "visibility", "body", "author", "at"]
        read_only_fields = ["id", "author", "at"]


class ObservableSerializer(serializers.ModelSerializer[Observable]):
    kind = serializers.ChoiceField(choices=ObservableKind.choices)
    value = serializers.CharField(max_length=2048, help_text="Kept in its normal form, once per incident.")
    added_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    actions: serializers.PrimaryKeyRelatedField[ResponseAction] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="The ids of the response actions that use this observable."
    )

    class Meta:
        model = Observable
        fields = ["id", "kind", "value", "description", "added_by", "added_at", "actions"]
        read_only_fields = ["id", "added_by", "added_at", "actions"]
        validators: list[Any] = []  # the service keeps a duplicate as the one the incident holds


@extend_schema_view(
    get=extend_schema(summary="The incident's notes (internal ones for MDR staff only)"),
    post=extend_schema(
        summary="Write a note (MDR staff)",
        description="A customer-visible note is also a timeline event; an internal one is not.",
    ),
)
class IncidentNotesView(generics.ListCreateAPIView[Note]):
    serializer_class = NoteSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Note]:
        incident = visible_incident(self.request, self.kwargs["incident_id"])
        return notes_for(incident, staff=is_mdr_staff(self.request.user, "incidents.view_note"))

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incident = visible_incident(request, self.kwargs["incident_id"])
        require_staff(request.user, "incidents.add_note", "write notes")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            note = note_add(
                incident=incident,
                by=signed_in_user(request),
                channel=Channel.API,
                **serializer.validated_data,
            )
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(summary="The incident's observables (everyone in the tenant)"),
    post=extend_schema(
        summary="Add an observable (MDR staff)",
        description="Validated by kind and kept in normal form; one the incident already holds is answered "
        "200 with the row it holds, a new one 201.",
        responses={200: ObservableSerializer, 201: ObservableSerializer},
    ),
)
class IncidentObservablesView(generics.ListCreateAPIView[Observable]):
    serializer_class = ObservableSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[Observable]:
        incident = visible_incident(self.request, self.kwargs["incident_id"])
        return (
            incident.observables.select_related("added_by")
            .prefetch_related("actions")
            .order_by("kind", "value")
        )

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incident = visible_incident(request, self.kwargs["incident_id"])
        require_staff(request.user, "incidents.add_observable", "add observables")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with service_errors():
            observable, new = observable_add(
                incident=incident,
                by=signed_in_user(request),
                channel=Channel.API,
                **serializer.validated_data,
            )
        answer = status.HTTP_201_CREATED if new else status.HTTP_200_OK
        return Response(ObservableSerializer(observable).data, status=answer)
