"""The case file's records besides the incident itself: analysts' notes and typed observables (part of the
incidents app; incidents.models loads them)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from mdrportal.core.append_only import AppendOnlyModel


class NoteVisibility(models.TextChoices):
    INTERNAL = "internal", "Internal (MDR staff only)"
    CUSTOMER = "customer", "Customer-visible"


class Note(AppendOnlyModel):
    """A note an MDR analyst wrote on an incident, for MDR staff only or for the customer too."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="notes")
    visibility = models.CharField(max_length=16, choices=NoteVisibility.choices)
    body = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["incident", "visibility", "at"])]

    def __str__(self) -> str:
        return f"{self.get_visibility_display()} note on incident #{self.incident_id}"


class ObservableKind(models.TextChoices):
    SHA256 = "sha256", "SHA-256"
    IP = "ip", "IP address"
    DOMAIN = "domain", "Domain"
    URL = "url", "URL"
    ACCOUNT = "account", "Account"
    HOST = "host", "Host"


class Observable(models.Model):
    """One indicator seen in an incident (a hash, an address, a domain, a URL, an account or a host), kept
    once per incident in its normal form."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="observables")
    kind = models.CharField(max_length=16, choices=ObservableKind.choices)
    value = models.CharField(max_length=2048)
    description = models.CharField(max_length=500, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)
    actions = models.ManyToManyField(
        "incidents.ResponseAction",
        through="incidents.ActionObservable",
        related_name="observables",
        blank=True,
    )

    class Meta:
        ordering = ["kind", "value"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "kind", "value"], name="one_observable_per_incident")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


class ActionObservable(models.Model):
    """A response action uses an observable of its incident (an isolation uses the host observable)."""

    action = models.ForeignKey(
        "incidents.ResponseAction", on_delete=models.PROTECT, related_name="observable_links"
    )
    observable = models.ForeignKey(Observable, on_delete=models.PROTECT, related_name="action_links")
    linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["linked_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["action", "observable"], name="one_link_per_action_observable")
        ]

    def __str__(self) -> str:
        return f"Action #{self.action_id} uses observable #{self.observable_id}"


class MessageSide(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    MDR = "mdr", "MDR Ops"


class Message(AppendOnlyModel):
    """One message of the thread between the customer's users and MDR Ops on an incident; it authorizes
    nothing."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="messages")
    side = models.CharField(max_length=16, choices=MessageSide.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["incident", "at"])]

    def __str__(self) -> str:
        return f"Message from the {self.get_side_display()} on incident #{self.incident_id}"
