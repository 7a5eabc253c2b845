"""The shapes of incidents, actions, the catalog, timelines and connectors in the API."""

from __future__ import annotations

import json
from typing import Any, cast

from rest_framework import serializers
from rest_framework.fields import empty

from incidents.case_file import CASE_FILE_FIELDS
from incidents.connector_models import ConnectorConfig, ConnectorKind
from incidents.models import (
    ActionType,
    Basis,
    Incident,
    IncidentStatus,
    ResponseAction,
    Severity,
    TimelineEvent,
)
from incidents.queue import QUEUE_VIEWS, staff_owners
from mdrportal.api.integration_keys import integration_key_of
from mdrportal.api.permissions import is_mdr_staff
from mdrportal.core.users import User
from tenants.models import Performer, Tenant
from tenants.selectors import tenants_for_user


class ActionTypeSerializer(serializers.ModelSerializer[ActionType]):
    revert_code: serializers.SlugRelatedField[ActionType] = serializers.SlugRelatedField(
        source="revert",
        slug_field="code",
        read_only=True,
        allow_null=True,
        help_text="The action type that undoes this one, if any.",
    )

    class Meta:
        model = ActionType
        fields = ["code", "name", "category", "revert_code"]


class IncidentSerializer(serializers.ModelSerializer[Incident]):
    class Meta:
        model = Incident
        fields = [
            "id",
            "tenant",
            "title",
            "severity",
            "summary",
            "observed_activity",
            "recommendations",
            "status",
            "needs_attention",
            "attention_reason",
            "attention_since",
            "owner",
            "detected_at",
            "opened_at",
        ]
        read_only_fields = ["status", "needs_attention", "attention_reason", "attention_since", "opened_at"]
        extra_kwargs: dict[str, dict[str, object]] = {"detected_at": {"required": False, "allow_null": True}}

    owner: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="The MDR analyst working the incident (MDR staff see it; null for others).",
    )

    def to_representation(self, instance: Incident) -> dict[str, Any]:
        shown = super().to_representation(instance)
        request = self.context.get("request")
        if request is not None and not is_mdr_staff(request.user, "incidents.view_incident"):
            # Why analysts were flagged may quote a platform's or a provider's error; who works it is MDR's.
            shown.update(attention_reason="", owner=None)
        return shown

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None and not fields["tenant"].read_only:
            # Only a tenant the caller may see can be named; any other is "does not exist". A pipeline's key
            # names any tenant, and the view refuses (403) one the key does not act for.
            key = integration_key_of(request)
            tenant = cast("serializers.PrimaryKeyRelatedField[Tenant]", fields["tenant"])  # the foreign key's
            visible = Tenant.objects.all() if key else tenants_for_user(request.user)
            tenant.queryset = visible
        return fields


class SeveralChoicesField(serializers.MultipleChoiceField):
    """A query parameter that takes several values, repeated or comma-separated (`?status=open,contained`),
    as the analysts' queue in the admin does."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(required=False, allow_empty=False, **kwargs)

    def get_value(self, dictionary: Any) -> Any:
        # Absent is no filter (a query string without the parameter is no empty selection).
        return super().get_value(dictionary) if self.field_name in dictionary else empty

    def to_internal_value(self, data: Any) -> set[str]:  # type: ignore[override]  # stubs: one str, DRF: a set
        if isinstance(data, str):
            data = [data]
        parts = [part.strip() for item in data for part in str(item).split(",")]
        chosen = [part for part in parts if part]
        # MultipleChoiceField's own check, then each value as one choice.
        if not chosen:
            self.fail("empty")
        return {super(serializers.MultipleChoiceField, self).to_internal_value(part) for part in chosen}


class IncidentFilterSerializer(serializers.Serializer[Any]):
    """Query parameters of the incident list; a date means midnight UTC at the start of that day."""

    DATE_FORMATS = ["iso-8601", "%Y-%m-%d"]

    tenant = serializers.IntegerField(required=False, min_value=1, help_text="A tenant id.")
    status = SeveralChoicesField(
        choices=IncidentStatus.choices, help_text="One status or several (repeated or comma-separated)."
    )
    severity = SeveralChoicesField(
        choices=Severity.choices, help_text="One severity or several (repeated or comma-separated)."
    )
    view = serializers.ChoiceField(
        choices=QUEUE_VIEWS,
        required=False,
        help_text="A saved view of the analysts' queue; with it, only active incidents are listed.",
    )
    opened_after = serializers.DateTimeField(
        required=False, input_formats=DATE_FORMATS, help_text="Opened at or after (date or date-time)."
    )
    opened_before = serializers.DateTimeField(
        required=False, input_formats=DATE_FORMATS, help_text="Opened before (date or date-time)."
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        after, before = data.get("opened_after"), data.get("opened_before")
        if after and before and after > before:
            raise serializers.ValidationError({"opened_before": "Must not be earlier than opened_after."})
        return data


class UsedObservableSerializer(serializers.Serializer[Any]):
    """An observable an action uses, as the action's answer names it."""

    id = serializers.IntegerField(read_only=True)
    kind = serializers.CharField(read_only=True)
    value = serializers.CharField(read_only=True)


class ActionSerializer(serializers.ModelSerializer[ResponseAction]):
    action_type = serializers.SlugRelatedField(
        slug_field="code", queryset=ActionType.objects.all(), help_text="An action type's code."
    )
    basis = serializers.ChoiceField(
        choices=Basis.choices,
        allow_blank=True,
        read_only=True,
        help_text="Why MDR Ops may perform it; empty while it may not.",
    )
    observables = UsedObservableSerializer(
        many=True, read_only=True, help_text="The incident's observables this action uses."
    )

    class Meta:
        model = ResponseAction
        fields = [
            "id",
            "incident",
            "action_type",
            "target",
            "status",
            "performer",
            "basis",
            "decision_reason",
            "observables",
        ]
        read_only_fields = ["incident", "status", "performer", "basis", "decision_reason"]


class IncidentStatusSerializer(serializers.Serializer[Any]):
    """An analyst moves an incident (resolving or closing it stops its calls and cancels waiting actions),
    or edits its case file; each change is a timeline event."""

    status = serializers.ChoiceField(choices=IncidentStatus.choices, required=False)
    reason = serializers.CharField(
        max_length=500, required=False, default="", help_text="Why: kept on the timeline."
    )
    title = serializers.CharField(max_length=200, required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    summary = serializers.CharField(required=False, allow_blank=True)
    observed_activity = serializers.CharField(required=False, allow_blank=True)
    recommendations = serializers.CharField(required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "status" not in attrs and not set(attrs) & set(CASE_FILE_FIELDS):
            raise serializers.ValidationError(
                {"status": "Send a status, or a field of the case file to change."}, code="required"
            )
        return attrs


class CancelSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=500, help_text="Why MDR Ops will not perform the action.")


class DecisionSerializer(serializers.Serializer[Any]):
    statement = serializers.CharField(
        max_length=5000, help_text="The approver's own words, kept with the written authorization."
    )


class TimelineEventSerializer(serializers.ModelSerializer[TimelineEvent]):
    actor = serializers.CharField(
        source="actor_label", read_only=True, help_text="A user, a contact, or system."
    )
    data = serializers.DictField(read_only=True)  # type: ignore[assignment]  # DRF's metaclass takes fields off the class

    class Meta:
        model = TimelineEvent
        fields = ["id", "at", "kind", "actor", "channel", "summary", "data"]
        read_only_fields = fields

    def to_representation(self, event: TimelineEvent) -> dict[str, Any]:
        shown = super().to_representation(event)
        details = shown["data"].get("details")
        request = self.context.get("request")
        if isinstance(details, dict) and not (
            request is not None and is_mdr_staff(request.user, "incidents.view_actionattempt")
        ):
            # A platform's answer may quote its internals; customers get the summary's short reason.
            kept = {key: details[key] for key in _DETAILS_FOR_CUSTOMERS if key in details}
            shown["data"] = {**shown["data"], "details": kept}
        return shown


# What customer users see of a platform's answer on the timeline: never its body.
_DETAILS_FOR_CUSTOMERS = ("status", "error", "simulated", "would")


class PerformerSerializer(serializers.Serializer[Any]):
    action_type = serializers.SlugRelatedField(
        slug_field="code", queryset=ActionType.objects.all(), help_text="An action type's code."
    )
    performer = serializers.ChoiceField(choices=Performer.choices)


class ConnectorSerializer(serializers.Serializer[Any]):
    """How MDR Ops reaches the tenant's endpoint platform; the secret is accepted, never returned."""

    kind = serializers.ChoiceField(choices=ConnectorKind.choices)
    url = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    client_id = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    external_tenant_id = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    secret = serializers.CharField(
        max_length=500,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        write_only=True,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="Sophos Central: the API client secret. Webhook: the HMAC signing key. Omit (or null) to "
        "keep the stored one. Never returned.",
    )
    has_secret = serializers.SerializerMethodField()
    options = serializers.DictField(required=False, default=dict)
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_has_secret(self, config: ConnectorConfig) -> bool:
        return bool(config.secret)

    def validate_options(self, options: dict[str, Any]) -> dict[str, Any]:
        # PostgreSQL's jsonb refuses NUL characters; say so here rather than fail in the database.
        if "\\u0000" in json.dumps(options):
            raise serializers.ValidationError("Options may not contain NUL characters.")
        return options


class AssignSerializer(serializers.Serializer[Any]):
    owner = serializers.PrimaryKeyRelatedField(
        queryset=staff_owners(), allow_null=True, help_text="An MDR staff user's id, or null for nobody."
    )
