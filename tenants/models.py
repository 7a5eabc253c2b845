"""Customers (tenants), their contacts and partners, who may do what, and the audit of their settings."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from phonenumber_field.modelfields import PhoneNumberField

from mdrportal.core.append_only import AppendOnlyModel
from tenants.availability_models import (  # re-exported: a contact's hours, kept apart
    AvailabilityWindow as AvailabilityWindow,
    AwayPeriod as AwayPeriod,
    Weekday as Weekday,
)
from tenants.channels import default_channels, validate_channels
from tenants.integration_key_models import (  # re-exported: the app's models, kept apart
    IntegrationKey as IntegrationKey,
)
from tenants.partner_default_models import (  # re-exported: kept apart
    PartnerDefault as PartnerDefault,
    PartnerProtectedTarget as PartnerProtectedTarget,
    TenantOwnSetting as TenantOwnSetting,
)
from tenants.protected_models import (  # re-exported: the app's models, kept apart
    ProtectedTarget as ProtectedTarget,
)


class Tier(models.TextChoices):
    ESSENTIALS = "essentials", "MDR Essentials"
    COMPLETE = "complete", "MDR Complete"


class ResponseMode(models.TextChoices):
    COLLABORATE = "collaborate", "Collaborate"
    AUTHORIZE = "authorize", "Authorize"


class Performer(models.TextChoices):
    MDR = "mdr", "MDR Ops"
    CUSTOMER = "customer", "Customer's team"
    PARTNER = "partner", "Partner (MSP)"


class NotifyFrom(models.TextChoices):
    """From which severity an incident notifies the customer as soon as it is known (the values are the
    incidents' severities); blank: only once an action needs the customer."""

    NEEDED = "", "Only when an action needs the customer"
    CRITICAL = "critical", "Critical incidents"
    HIGH = "high", "High and above"
    MEDIUM = "medium", "Medium and above"
    LOW = "low", "Low and above"
    INFO = "info", "Every incident"


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    APPROVER = "approver", "Approver"
    VIEWER = "viewer", "Viewer"


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (for example Europe/Paris).")


class Partner(models.Model):
    """An IT managed service provider that performs delegated actions for the tenants it serves."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    # The partner's own contacts' hours and away dates are read on its clock, not its customers'.
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])

    def __str__(self) -> str:
        return self.name


class Tenant(models.Model):
    """A customer of the MDR service and its response policy."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.ESSENTIALS)
    response_mode = models.CharField(
        max_length=16, choices=ResponseMode.choices, default=ResponseMode.COLLABORATE
    )
    authorize_on_no_ack = models.BooleanField(
        "act as in Authorize mode when nobody acknowledges",
        default=False,
        help_text="Collaborate only: if every contact was phoned and nobody acknowledged, MDR Ops acts as in "
        "Authorize mode for that incident.",
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    call_attempts_per_contact = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    ring_timeout_seconds = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(10), MaxValueValidator(120)]
    )
    notify_from_severity = models.CharField(
        "notify at once from severity",
        max_length=16,
        choices=NotifyFrom.choices,
        default=NotifyFrom.NEEDED,
        blank=True,
        help_text="An incident of this severity or higher (when opened, or once raised to it) starts "
        "notification at once: emails, then the call tree.",
    )
    reminder_minutes = models.PositiveSmallIntegerField(
        "minutes between reminders",
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(1440)],
        help_text="Once someone acknowledged, how often the customer is reminded of what still waits for it "
        "(written authorization, tasks).",
    )
    reminder_count = models.PositiveSmallIntegerField(
        "reminders before the incident is flagged",
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
    )
    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.PROTECT, related_name="tenants"
    )
    # Delegation to the partner: without it a partner's users read the customer and work the partner's
    # tasks, and decide nothing for the customer (tenants.deciding).
    partner_decides = models.BooleanField(
        "our partner may authorize for us",
        default=False,
        help_text="The partner's approvers and admins may authorize, decline and acknowledge for this customer.",
    )
    partner_manages_settings = models.BooleanField(
        "our partner manages our settings",
        default=False,
        help_text="The partner's admins may change this customer's response mode, fallback checkbox, "
        "performers and contacts.",
    )
    viewers_need_second_factor = models.BooleanField(
        "viewers sign in with a second factor",
        default=True,
        help_text="Customer admins, approvers and MDR staff always need one; this can relax it for the "
        "tenant's viewers (and its partner's viewers).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    """A person MDR Ops notifies, in call order, for a tenant or for a partner."""

    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="contacts"
    )
    partner = models.ForeignKey(
        Partner, null=True, blank=True, on_delete=models.PROTECT, related_name="contacts"
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = PhoneNumberField(blank=True, help_text="International format, for example +1 202 555 0100.")
    call_order = models.PositiveSmallIntegerField()
    can_authorize = models.BooleanField("may authorize actions", default=False)
    active = models.BooleanField(default=True)
    channels = models.JSONField(
        default=default_channels,
        validators=[validate_channels],
        error_messages={"blank": "Choose at least one channel."},
        help_text="How the contact is reached: any of voice, sms, email.",
    )
    sms_opted_out_at = models.DateTimeField(
        "texts stopped at",
        null=True,
        blank=True,
        help_text="Set when the contact replied STOP to a text: no text goes to it until it replies START.",
    )

    class Meta:
        ordering = ["call_order"]
        constraints = [
            models.CheckConstraint(
                condition=Q(tenant__isnull=False, partner__isnull=True)
                | Q(tenant__isnull=True, partner__isnull=False),
                name="contact_has_one_owner",
            ),
            models.UniqueConstraint(
                fields=["tenant", "call_order"], name="contact_call_order_unique_in_tenant"
            ),
            models.UniqueConstraint(
                fields=["partner", "call_order"], name="contact_call_order_unique_in_partner"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> str:
        """The time zone its hours are read in: its tenant's, or its partner's."""
        owner = self.tenant if self.tenant_id is not None else self.partner
        if owner is None:
            raise ValueError("a contact belongs to a tenant or a partner")  # contact_has_one_owner
        return owner.timezone


class ActionPerformer(models.Model):
    """Who performs one action type for a tenant under Collaborate; no row means MDR Ops."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="performers")
    # The catalog lives in the incidents app, which depends on this one: the code is the stable key.
    action_code = models.SlugField(max_length=64)
    performer = models.CharField(max_length=16, choices=Performer.choices, default=Performer.MDR)

    class Meta:
        ordering = ["action_code"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "action_code"], name="one_performer_per_action")
        ]

    def __str__(self) -> str:
        return f"{self.action_code}: {self.performer}"


class Membership(models.Model):
    """A customer user's role at one tenant."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="one_role_per_tenant")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} at {self.tenant}"


class PartnerMembership(models.Model):
    """A partner user's role, which reaches every tenant the partner serves."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_memberships"
    )
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "partner"], name="one_role_per_partner")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} at {self.partner}"


class SettingsChange(AppendOnlyModel):
    """One audited change of a tenant's settings: who, when, what, before and after."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="settings_changes")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # PROTECT: an audited user is deactivated, never deleted. No actor means the system itself.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    actor_label = models.CharField(max_length=150)
    field = models.CharField(max_length=64)
    subject = models.CharField(
        max_length=200, blank=True, help_text="The contact or action type changed, if any."
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.tenant}: {self.field} {self.before!r} -> {self.after!r}"


class LoginThrottle(models.Model):
    """Recent failed sign-ins for one username from one address (an IPv6 /64), and the lockout they led to."""

    # An HMAC of the username and the address: no typed-in username (often a password) is stored.
    key = models.CharField(max_length=64, unique=True)
    # An HMAC of the username alone, so that an MDR lead can lift every lock on one user.
    username_key = models.CharField(max_length=64, blank=True, default="", db_index=True)
    failures = models.PositiveSmallIntegerField(default=0)
    window_started_at = models.DateTimeField(help_text="When the first failure of the current count came.")
    locked_until = models.DateTimeField(null=True, blank=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.failures} sign-in attempts since {self.window_started_at:%Y-%m-%d %H:%M}"


class LoginUsernameThrottle(models.Model):
    """Recent failed sign-ins for one username from every address together, and its growing lockouts."""

    # An HMAC of the username alone, as on LoginThrottle.
    username_key = models.CharField(max_length=64, unique=True)
    failures = models.PositiveSmallIntegerField(default=0)
    window_started_at = models.DateTimeField(help_text="When the first failure of the current count came.")
    # Kept once the lock has run out: the next lock, if it comes soon after, lasts twice as long.
    locked_until = models.DateTimeField(null=True, blank=True, db_index=True)
    locks = models.PositiveSmallIntegerField(default=0, help_text="Locks in a row, each one twice as long.")

    def __str__(self) -> str:
        return f"{self.failures} sign-in attempts since {self.window_started_at:%Y-%m-%d %H:%M}, {self.locks} locks"


class ApiToken(models.Model):
    """A person's API token: only a digest of its key is kept; it expires, and it may decide on actions only
    while its second factor is recent (tenants/api_tokens.py)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    # SHA-256 of the key: the key is random (256 bits), so a plain digest cannot be turned back into it.
    digest = models.CharField(max_length=64, unique=True)
    # The password the token was created under (an HMAC of its hash): a new password ends the token
    # on every path that sets one, as Django's session hash ends sessions.
    password_stamp = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    second_factor_at = models.DateTimeField(
        null=True, blank=True, help_text="When the second factor was passed to create it; empty: never."
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"API token {self.pk} of {self.user}, created {self.created_at:%Y-%m-%d %H:%M}"


class SharedCacheEntry(models.Model):
    """One entry of the shared cache (API throttles) when no Redis is configured: Django's database cache
    backend reads and writes this table; a model so that migrations create it."""

    cache_key = models.CharField(max_length=255, primary_key=True)
    value = models.TextField()
    expires = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "mdr_cache"

    def __str__(self) -> str:
        return self.cache_key


class UserPreferences(models.Model):
    """One person's own settings for reading the portal: the time zone its times are shown in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text="Empty: the customer's time zone (for MDR staff without a customer: the portal's).",
    )

    def __str__(self) -> str:
        return f"preferences of {self.user}"
