"""Factories for tests; they build rows through the services where a service owns the write."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from escalation.calls.pace import RedisCallPacer
from escalation.models import CallPace
from incidents.actions import action_propose
from incidents.authorizations import authorization_record
from incidents.connectors.base import ActionRequest
from incidents.management.commands.seed_demo import tenant_seed
from incidents.models import Authorization, Channel, Incident, ResponseAction, Severity
from incidents.selectors import action_type_by_code, authorization_text
from incidents.services import incident_open
from mdrportal.web import second_factor
from reports.models import ReportRecipient
from tenants.integration_key_services import integration_key_create
from tenants.membership_services import membership_set
from tenants.models import (
    Contact,
    IntegrationKey,
    Partner,
    Performer,
    ResponseMode,
    Role,
    Tenant,
    Tier,
)
from tests.credentials import api_client_for, api_token_for

_numbers = itertools.count(1)
PASSWORD = "correct-horse-battery"
# Calls per second for tests that are not about pacing: every dispatch finds its slot free (the pacer is
# tested on its own in tests/test_call_pacer.py).
UNPACED = 1_000_000


def call_pacer_forget(*, database: bool = True) -> None:
    """The next call slot free, as if no call had been placed yet (the pacer's Redis keys outlive a test's
    transaction; its database row does not)."""
    if settings.RATE_LIMIT_REDIS_URL:
        pacer = RedisCallPacer(settings.RATE_LIMIT_REDIS_URL, per_second=1)
        pacer.client.delete(*pacer.keys)
    if database:
        CallPace.objects.all().delete()


def make_user(
    username: str | None = None, *, staff: bool = False, group: str | None = None, **extra: Any
) -> Any:
    user = get_user_model().objects.create_user(
        username=username or f"user{next(_numbers)}", password=PASSWORD, is_staff=staff, **extra
    )
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def make_analyst(username: str = "analyst") -> Any:
    return make_user(username, staff=True, group="MDR Ops")


def make_lead(username: str = "lead") -> Any:
    return make_user(username, staff=True, group="MDR Leads")


def make_superuser(username: str = "root") -> Any:
    return make_user(username, staff=True, is_superuser=True)


def make_partner(slug: str = "msp") -> Partner:
    return Partner.objects.create(name=slug.title(), slug=slug)


def make_tenant(
    *,
    tier: str = Tier.COMPLETE,
    mode: str = ResponseMode.COLLABORATE,
    fallback: bool = False,
    phones: int = 2,
    performers: dict[str, str] | None = None,
    partner: Partner | None = None,
    slug: str | None = None,
) -> Tenant:
    n = next(_numbers)
    tenant = tenant_seed(
        {"name": f"Tenant {n}", "slug": slug or f"tenant-{n}", "tier": tier, "response_mode": mode},
        partner=partner,
        contacts=[
            {
                "name": f"Contact {n}.{i + 1}",
                "email": f"c{i + 1}@t{n}.example",
                "phone": f"+1202555{100 + i:04d}",
                "can_authorize": True,
            }
            for i in range(phones)
        ],
        performers=performers or {},
        fallback=fallback,
    )
    tenant.refresh_from_db()
    return tenant


def make_member(tenant: Tenant, role: str = Role.VIEWER, username: str | None = None) -> Any:
    user = make_user(username)
    membership_set(tenant=tenant, user=user, role=role, by=None)
    return user


def make_relaxed_viewer(username: str | None = None) -> Any:
    """A viewer of a tenant that relaxed the second factor for viewers: one whom the portal and the API
    ask for no code (a password alone gets an API token)."""
    tenant = make_tenant()
    tenant.viewers_need_second_factor = False
    tenant.save(update_fields=["viewers_need_second_factor"])
    return make_member(tenant, Role.VIEWER, username=username)


def make_partner_user(partner: Partner, role: str = Role.VIEWER, username: str | None = None) -> Any:
    user = make_user(username)
    partner.memberships.create(user=user, role=role)
    return user


def make_incident(
    tenant: Tenant, *, by: Any = None, severity: str = Severity.CRITICAL, summary: str = ""
) -> Incident:
    return incident_open(
        tenant=tenant, title="Ransomware on WS-0142", severity=severity, summary=summary, by=by
    )


def propose(incident: Incident, code: str, target: str = "WS-0142", by: Any = None) -> ResponseAction:
    return action_propose(incident=incident, action_type=action_type_by_code(code), target=target, by=by)


def portal_decision(
    incident: Incident,
    actions: list[ResponseAction],
    user: Any,
    decision: str = Authorization.Decision.GRANTED,
) -> Authorization:
    """A customer's written decision in the portal, on exactly the text the portal shows for the actions."""
    return authorization_record(
        incident=incident,
        actions=actions,
        decision=decision,
        channel=Channel.PORTAL,
        user=user,
        text_shown=authorization_text(incident, actions),
    )


def make_tasks(slug: str) -> dict[str, Any]:
    """A tenant served by a partner, with an incident holding a task for each: the customer's team disables
    an account, the partner blocks an address; an approver on each side."""
    partner = make_partner(slug)
    tenant = make_tenant(
        partner=partner, performers={"disable_user": Performer.CUSTOMER, "block_ip": Performer.PARTNER}
    )
    incident = make_incident(tenant)
    technician = make_partner_user(partner, Role.APPROVER, f"tech-{slug}")
    return {
        "tenant": tenant,
        "incident": incident,
        "customer": propose(incident, "disable_user", target="jdoe"),
        "partner": propose(incident, "block_ip", target="203.0.113.9"),
        "technician": technician,
        "approver": make_member(tenant, Role.APPROVER),
    }


def first_contact(tenant: Tenant) -> Contact:
    return tenant.contacts.order_by("call_order").first()


def make_action_request(**overrides: Any) -> ActionRequest:
    """What a connector receives for one attempt, without any database row behind it."""
    fields: dict[str, Any] = {
        "action_id": 41,
        "attempt": 1,
        "incident_id": 7,
        "incident_title": "Ransomware on FIN-LAPTOP-7",
        "tenant_slug": "acme",
        "action_code": "isolate_endpoint",
        "category": "containment",
        "target": "WS-0142",
    }
    return ActionRequest(**{**fields, **overrides})


def login_verified(client: Client, user: Any) -> Any:
    """Sign the client in as the user with a second factor just passed, as the sign-in pages leave it.

    The user gets a confirmed authenticator (returned) if it has none yet.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    client.force_login(user)
    session = client.session
    session[second_factor.SESSION_KEY] = {"user": user.pk, "device": device.persistent_id, "at": time.time()}
    session.save()
    return device


def api_token(user: Any, *, second_factor: bool = True) -> str:
    """The key of a new API token of the user; by default one created with a second factor just passed, as
    decisions need."""
    _token, key = api_token_for(user, second_factor_age=timedelta(0) if second_factor else None)
    return key


def make_integration_key(
    *tenants: Tenant, name: str = "SIEM prod", all_tenants: bool = False, by: Any = None
) -> tuple[IntegrationKey, str]:
    """A detection pipeline's key, made by a lead, and the key itself as the pipeline sends it."""
    return integration_key_create(
        name=name, tenants=tenants, all_tenants=all_tenants, by=by or make_lead(f"lead{next(_numbers)}")
    )


def as_key(presented: str) -> APIClient:
    """An API client that authenticates as a detection pipeline with its integration key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {presented}")
    return client


def as_user(user: Any) -> APIClient:
    """An API client that authenticates as the user with a new token that may decide (see api_token)."""
    return api_client_for(user, second_factor_age=timedelta(0))


def portal(user: Any, tenant: Tenant | None = None) -> Client:
    """A page client signed in as the user (second factor passed), acting for the tenant when one is given (as
    a partner's user chooses the customer it acts for)."""
    client = Client()
    login_verified(client, user)
    if tenant is not None:
        client.post(reverse("tenants:choose"), {"tenant": tenant.pk})
    return client


def client_for(tenant: Tenant, role: str = Role.VIEWER) -> tuple[Client, Any]:
    """A page client signed in (second factor passed) as a new member of the tenant with the role."""
    user = make_member(tenant, role)
    return portal(user), user


def kinds(incident: Incident) -> list[str]:
    """The kinds of the incident's timeline events, oldest first."""
    return list(incident.events.order_by("at", "id").values_list("kind", flat=True))


def recipients_on_record_long_ago() -> None:
    """Every monthly report recipient counts as added long before the months a test reports."""
    ReportRecipient.objects.update(active_since=datetime(2020, 1, 1, tzinfo=UTC))
