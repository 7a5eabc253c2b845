"""Demo data for the embedded default: one tenant per policy combination, users of every role, incidents."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser

from incidents.actions import action_propose
from incidents.models import Severity
from incidents.selectors import action_type_by_code
from incidents.services import incident_open
from mdrportal.core.retry import retried_atomic
from mdrportal.core.users import User
from tenants.membership_services import membership_set
from tenants.models import Partner, Performer, ResponseMode, Role, Tenant, Tier
from tenants.performer_services import performer_set
from tenants.services import contact_create, tenant_create, tenant_update_settings

# slug, name, tier, mode, fallback checkbox, served by the partner
TENANTS = [
    ("acme-dental", "Acme Dental", Tier.ESSENTIALS, ResponseMode.COLLABORATE, False, True),
    ("birch-logistics", "Birch Logistics", Tier.ESSENTIALS, ResponseMode.COLLABORATE, True, False),
    ("cobalt-retail", "Cobalt Retail", Tier.ESSENTIALS, ResponseMode.AUTHORIZE, False, False),
    ("delta-health", "Delta Health", Tier.COMPLETE, ResponseMode.COLLABORATE, False, True),
    ("evergreen-law", "Evergreen Law", Tier.COMPLETE, ResponseMode.COLLABORATE, True, False),
    ("fjord-energy", "Fjord Energy", Tier.COMPLETE, ResponseMode.AUTHORIZE, False, False),
]
PERFORMERS = {
    "acme-dental": {"block_domain": Performer.PARTNER, "disable_user": Performer.CUSTOMER},
    "delta-health": {"remove_persistence": Performer.PARTNER, "disable_user": Performer.CUSTOMER},
}
CONTACTS = [("IT manager", True), ("CISO", True), ("Office manager", False)]
DEFAULT_PASSWORD = "mdr-demo-2026"


def tenant_seed(
    fields: dict[str, Any],
    *,
    partner: Partner | None,
    contacts: Iterable[dict[str, Any]],
    performers: Mapping[str, str],
    fallback: bool,
) -> Tenant:
    """A tenant set up as its admin would, each write through its service: the tenant (`fields` as
    tenant_create takes them), its contacts in call order, who performs which action type, then the fallback
    checkbox (it needs a contact with a phone number)."""
    tenant = tenant_create(partner=partner, by=None, **fields)
    for contact in contacts:
        contact_create(tenant=tenant, by=None, **contact)
    for code, performer in performers.items():
        performer_set(tenant=tenant, by=None, action_code=code, performer=performer)
    if fallback:
        tenant_update_settings(tenant=tenant, by=None, authorize_on_no_ack=True)
    return tenant


class Command(BaseCommand):
    help = "Create demo tenants, contacts, a partner, users of every role and incidents (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default=DEFAULT_PASSWORD, help="Password given to new demo users.")

    @retried_atomic
    def handle(self, *args: Any, password: str, **options: Any) -> None:
        self.password = password
        self.logins: list[tuple[str, str]] = []
        analyst = self._user("analyst", "MDR analyst (admin: /admin/)", staff=True, group="MDR Ops")
        self._user("lead", "MDR lead (admin: /admin/)", staff=True, group="MDR Leads")
        partner = self._partner()
        for number, (slug, name, tier, mode, fallback, served) in enumerate(TENANTS):
            tenant = Tenant.objects.filter(slug=slug).first() or self._tenant(
                number, slug, name, tier, mode, fallback, partner if served else None
            )
            for role in Role:
                user = self._user(f"{slug}-{role.value}", f"{role.label} at {name}")
                membership_set(tenant=tenant, user=user, role=role, by=None)
            if not tenant.incidents.exists():
                self._incident(tenant, analyst)
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready. Logins (password for new users: {password}):")
        )
        for username, what in self.logins:
            self.stdout.write(f"  {username:28} {what}")
        self.stdout.write(
            "At first sign-in each user sets up a second factor: scan the QR code (or type the secret) into "
            "an authenticator app and keep the recovery codes shown."
        )

    def _user(self, username: str, what: str, *, staff: bool = False, group: str | None = None) -> User:
        user, created = get_user_model().objects.get_or_create(
            username=username, defaults={"is_staff": staff}
        )
        if created:
            user.email = f"{username}@demo.example"
            user.set_password(self.password)
            user.save()
        if group:
            user.groups.add(Group.objects.get(name=group))
        self.logins.append((username, what))
        return user

    def _partner(self) -> Partner:
        partner, created = Partner.objects.get_or_create(
            slug="northwind", defaults={"name": "Northwind IT Services"}
        )
        if created:
            contact_create(
                partner=partner,
                by=None,
                name="Northwind NOC",
                email="noc@northwind.example",
                phone="+12025550190",
            )
        user = self._user("northwind", "partner (MSP) user, reaches Acme Dental and Delta Health")
        partner.memberships.get_or_create(user=user, defaults={"role": Role.VIEWER})
        return partner

    def _tenant(
        self, number: int, slug: str, name: str, tier: str, mode: str, fallback: bool, partner: Partner | None
    ) -> Tenant:
        domain = slug.split("-")[0] + ".example"
        contacts = [
            {
                "name": f"{name} {title}",
                "email": f"{title.split()[0].lower()}@{domain}",
                "phone": f"+120255501{number * 3 + position:02d}",
                "can_authorize": can_authorize,
            }
            for position, (title, can_authorize) in enumerate(CONTACTS)
        ]
        return tenant_seed(
            {"name": name, "slug": slug, "tier": tier, "response_mode": mode, "timezone": "Europe/London"},
            partner=partner,
            contacts=contacts,
            performers=PERFORMERS.get(slug, {}),
            fallback=fallback,
        )

    def _incident(self, tenant: Tenant, analyst: User) -> None:
        incident = incident_open(
            tenant=tenant,
            title="Ransomware spreading from WS-0142",
            severity=Severity.CRITICAL,
            summary="File encryption and SMB lateral movement from workstation WS-0142.",
            observed_activity="03:02 UTC: mass file renames to *.lockbit on \\\\FS01\\shares from WS-0142; "
            "03:04 UTC: PsExec sessions from WS-0142 to WS-0150 and WS-0151.",
            recommendations="Isolate WS-0142, block the payload hash and the C2 domain, disable the account "
            "j.doe, then remove the scheduled task used for persistence.",
            by=analyst,
        )
        for code, target in [
            ("isolate_endpoint", "WS-0142"),
            ("block_sha256", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
            ("block_domain", "update-check.badcdn.example"),
            ("disable_user", "j.doe"),
            ("remove_persistence", "WS-0142: scheduled task \\Microsoft\\Windows\\Update\\svchost"),
        ]:
            action_propose(
                incident=incident, action_type=action_type_by_code(code), target=target, by=analyst
            )
