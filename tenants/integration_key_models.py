"""Integration keys: the credentials of detection pipelines, which open incidents and propose actions for the
tenants they name and decide nothing (DESIGN rule 13)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

# The public part of every key: `mdrk_<prefix>_<secret>`, sent as `Authorization: Bearer <key>`.
KEY_SCHEME = "mdrk"


class IntegrationKey(models.Model):
    """One detection pipeline's key: its name, the tenants it acts for, and a digest of its secret."""

    name = models.CharField(max_length=100, help_text="The pipeline, for example 'SIEM prod'.")
    all_tenants = models.BooleanField(
        default=False, help_text="Acts for every tenant, present and future, instead of those listed."
    )
    tenants = models.ManyToManyField("tenants.Tenant", blank=True, related_name="integration_keys")
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    # SHA-256 of the whole key: the secret has 256 random bits, so a fast hash is as safe as a slow one and
    # every request can afford it.
    digest = models.CharField(max_length=64, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    # Not stored: the key itself, held on the instance the admin has just created, whose page shows it once.
    presented_once = ""

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"Integration key '{self.name}' ({self.public_id})"

    @property
    def public_id(self) -> str:
        """What identifies the key in lists and on timelines; never enough to use it."""
        return f"{KEY_SCHEME}_{self.prefix}"
