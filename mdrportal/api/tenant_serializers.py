"""The shapes of tenants, contacts and customer logins in the API; the services decide what is allowed."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from mdrportal.api.availability_serializers import availability_fields
from tenants.channels import ContactChannel
from tenants.models import Contact, Role, Tenant
from tenants.services import TENANT_SETTINGS

ADMIN_ONLY_SETTINGS = ("partner", "viewers_need_second_factor", "notify_from_severity")

# What tenant_create takes; the other settings go through tenant_update_settings in the same transaction.
TENANT_CREATE_ARGS = ("name", "slug", "tier", "response_mode", "timezone")
# What a customer admin may change, as on the settings page; MDR staff also change the name and the tier.
CUSTOMER_SETTINGS = (
    "response_mode",
    "authorize_on_no_ack",
    "call_attempts_per_contact",
    "ring_timeout_seconds",
    "timezone",
    "reminder_minutes",
    "reminder_count",
)


class TenantSerializer(serializers.ModelSerializer[Tenant]):
    class Meta:
        model = Tenant
        # The settings the services change, but those set in the admin (partner, second factor, notify-from).
        fields = [
            "id",
            "name",
            "slug",
            *(f for f in TENANT_SETTINGS if f not in ("name", *ADMIN_ONLY_SETTINGS)),
        ]
        # The service checks uniqueness (full_clean) inside its transaction; no second query here.
        extra_kwargs: dict[str, dict[str, object]] = {"slug": {"validators": []}}


class TenantSettingsSerializer(TenantSerializer):
    """A change of settings: the slug names the tenant for good."""

    class Meta(TenantSerializer.Meta):
        read_only_fields = ["slug"]


class ContactSerializer(serializers.ModelSerializer[Contact]):
    windows = availability_fields()["windows"]
    away_periods = availability_fields()["away_periods"]
    phone = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="E.164, for example +12025550100; empty for an email-only contact.",
    )
    call_order = serializers.IntegerField(
        min_value=1,
        max_value=1000,
        required=False,
        help_text="1 is called first. On create the contact goes last unless a place is given; "
        "a change moves the contact there and shifts the others.",
    )

    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=ContactChannel.choices),
        min_length=1,
        max_length=len(ContactChannel.choices),
        required=False,
        help_text="How the contact is reached, each at most once: voice, sms (needs a phone), email. "
        'Default ["voice", "email"].',
    )
    sms_opted_out_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the contact replied STOP to a text; no text goes to it until it replies START.",
    )

    class Meta:
        model = Contact
        fields = [
            "id",
            "name",
            "email",
            "phone",
            "call_order",
            "can_authorize",
            "active",
            "windows",
            "away_periods",
            "channels",
            "sms_opted_out_at",
        ]
        validators: list[object] = []

    def validate_channels(self, value: list[str]) -> list[str]:
        if len(value) != len(set(value)):
            raise serializers.ValidationError("Each channel can be chosen once.")
        return value


class CustomerLoginSerializer(serializers.Serializer[Any]):
    """A customer user and their role at one tenant."""

    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(max_length=150)
    email = serializers.EmailField(required=False, allow_blank=True, default="")
    password = serializers.CharField(
        write_only=True, max_length=128, trim_whitespace=False, style={"input_type": "password"}
    )
    role = serializers.ChoiceField(choices=Role.choices)


class DelegationSerializer(serializers.Serializer[Any]):
    """What the customer lets its partner's users do for it."""

    partner = serializers.CharField(source="partner.name", read_only=True, allow_null=True, default=None)
    partner_decides = serializers.BooleanField(
        help_text="The partner's approvers and admins authorize, decline and acknowledge for the customer."
    )
    partner_manages_settings = serializers.BooleanField(
        help_text="The partner's admins change the customer's mode, fallback, performers and contacts."
    )
    reason = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Why (required from MDR staff); kept in the settings history.",
    )
