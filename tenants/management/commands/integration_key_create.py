"""Create an integration key for a detection pipeline from the command line (an operator's deployment
script), as an MDR lead does in the admin: the key is printed once and only its digest is kept."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.integration_key_services import integration_key_create
from tenants.models import Tenant

CREATE_PERMISSION = "tenants.add_integrationkey"


class Command(BaseCommand):
    help = (
        "Create an integration key that opens incidents and proposes actions for the tenants named (or all). "
        "Prints the key once: store it in the pipeline's secrets."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="What the key is for, e.g. 'SIEM prod'.")
        parser.add_argument("--by", required=True, help="The MDR lead who creates it (a username).")
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--tenant", action="append", default=[], help="A tenant's slug (repeatable).")
        scope.add_argument("--all-tenants", action="store_true", help="Every tenant, now and later.")

    def handle(
        self, *args: Any, name: str, by: str, tenant: list[str], all_tenants: bool, **options: Any
    ) -> None:
        creator = get_user_model().objects.filter(username=by, is_active=True).first()
        if creator is None or not creator.has_perm(CREATE_PERMISSION):
            raise CommandError(f"{by!r} is no active user allowed to create integration keys (an MDR lead).")
        tenants = list(Tenant.objects.filter(slug__in=tenant))
        unknown = sorted(set(tenant) - {t.slug for t in tenants})
        if unknown:
            raise CommandError(f"No tenant with the slug {', '.join(map(repr, unknown))}.")
        try:
            key, presented = integration_key_create(
                name=name, tenants=tenants, all_tenants=all_tenants, by=creator
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        self.stderr.write(f"Integration key {key.prefix} created for {name!r}; it is shown once:")
        self.stdout.write(presented)
