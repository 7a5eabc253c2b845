"""The people the suite acts as, one fixture each: MDR staff by group, a customer's logins by role, a partner's.

tests/conftest.py makes them available to every test; a test file may still define a fixture of the same name
when it needs someone else.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tenants.models import Partner, Role, Tenant
from tests.factories import (
    login_verified,
    make_analyst,
    make_lead,
    make_member,
    make_partner,
    make_partner_user,
    make_superuser,
    make_tenant,
)


@pytest.fixture
def fast_passwords(settings: Any) -> None:
    """Passwords hash in microseconds: for the files that create and sign in many users."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# MDR staff


@pytest.fixture
def analyst() -> Any:
    """An MDR analyst (group MDR Ops)."""
    return make_analyst()


@pytest.fixture
def lead() -> Any:
    """An MDR lead (group MDR Leads): may also manage tenants and logins."""
    return make_lead()


@pytest.fixture
def superuser() -> Any:
    return make_superuser()


@pytest.fixture
def analyst_client(client: Client, analyst: Any) -> Client:
    login_verified(client, analyst)
    return client


@pytest.fixture
def lead_client(client: Client, lead: Any) -> Client:
    login_verified(client, lead)
    return client


@pytest.fixture
def superuser_client(client: Client, superuser: Any) -> Client:
    login_verified(client, superuser)
    return client


# A customer and its logins


@pytest.fixture
def tenant() -> Tenant:
    return make_tenant()


@pytest.fixture
def customer_admin(tenant: Tenant) -> Any:
    return make_member(tenant, Role.ADMIN)


@pytest.fixture
def approver(tenant: Tenant) -> Any:
    return make_member(tenant, Role.APPROVER)


@pytest.fixture
def viewer(tenant: Tenant) -> Any:
    return make_member(tenant, Role.VIEWER)


# A partner (an MSP) serving customers


@pytest.fixture
def partner() -> Partner:
    return make_partner()


@pytest.fixture
def partner_user(partner: Partner) -> Any:
    return make_partner_user(partner)
