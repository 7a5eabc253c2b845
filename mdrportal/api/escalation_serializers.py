"""The shapes of notification runs and acknowledgments in the API."""

from __future__ import annotations

from rest_framework import serializers

from escalation.models import Acknowledgment, NotificationRun


class NotificationRunSerializer(serializers.ModelSerializer[NotificationRun]):
    class Meta:
        model = NotificationRun
        fields = ["id", "incident", "purpose", "round", "state", "started_at"]
        read_only_fields = fields


class AcknowledgmentSerializer(serializers.ModelSerializer[Acknowledgment]):
    class Meta:
        model = Acknowledgment
        fields = ["id", "incident", "channel", "at"]
        read_only_fields = fields
