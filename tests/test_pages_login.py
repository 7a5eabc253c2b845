"""Signing in and out, the brute-force lock, partner users choosing a customer, and production headers."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mdrportal.security import CONTENT_SECURITY_POLICY
from mdrportal.web.login_guard import MAX_FAILURES
from tenants.models import LoginThrottle, Tenant
from tenants.services import tenant_update_settings
from tests.factories import (
    PASSWORD,
    login_verified,
    make_incident,
    make_member,
    make_partner,
    make_partner_user,
    make_tenant,
    make_user,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]
ROOT = Path(__file__).resolve().parent.parent
LOGIN = reverse("login")
ADDRESS = "203.0.113.5"
LOCKED = "sign-in is locked until"


def sign_in(client: Client, username: str, password: str, address: str = ADDRESS) -> Any:
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_a_customer_signs_in_lands_on_its_home_page_and_signs_out(tenant: Tenant, viewer: Any) -> None:
    tenant_update_settings(tenant=tenant, by=None, viewers_need_second_factor=False)
    user = viewer
    client = Client()

    response = sign_in(client, user.username, PASSWORD)

    assert response.status_code == 302 and response["Location"] == reverse("home")
    home = client.get(reverse("home"))
    assert home.status_code == 200 and tenant.name in home.content.decode()
    out = client.post(reverse("logout"))
    assert out["Location"] == LOGIN
    assert client.get(reverse("home"))["Location"].startswith(f"{LOGIN}?next=")


def test_five_failures_lock_the_username_from_that_address_for_fifteen_minutes() -> None:
    user = make_member(make_tenant())
    client = Client()
    for _ in range(MAX_FAILURES):
        response = sign_in(client, user.username, "wrong")
        assert response.status_code == 200
    assert LOCKED in response.content.decode()  # the fifth failure says so at once

    locked = sign_in(client, user.username, PASSWORD)  # even the right password

    assert locked.status_code == 200
    assert LOCKED in locked.content.decode()
    assert "_auth_user_id" not in client.session
    # Another address, and another username from this address, are not locked.
    assert sign_in(Client(), user.username, PASSWORD, address="198.51.100.1").status_code == 302
    other = make_member(make_tenant())
    assert sign_in(Client(), other.username, PASSWORD).status_code == 302


def test_the_lock_ends_after_fifteen_minutes_and_a_success_clears_the_count() -> None:
    user = make_member(make_tenant())
    client = Client()
    for _ in range(MAX_FAILURES):
        sign_in(client, user.username, "wrong")
    LoginThrottle.objects.update(locked_until=timezone.now() - timedelta(seconds=1))

    assert sign_in(client, user.username, PASSWORD).status_code == 302
    assert not LoginThrottle.objects.exists()


def test_failures_older_than_the_window_do_not_count() -> None:
    user = make_member(make_tenant())
    for _ in range(MAX_FAILURES - 1):
        sign_in(Client(), user.username, "wrong")
    LoginThrottle.objects.update(window_started_at=timezone.now() - timedelta(minutes=16))

    sign_in(Client(), user.username, "wrong")

    throttle = LoginThrottle.objects.get()
    assert (throttle.failures, throttle.locked_until) == (1, None)
    assert user.username not in throttle.key  # typed-in usernames are not stored


def test_the_admin_login_is_guarded_by_the_same_lock(analyst: Any) -> None:
    for _ in range(MAX_FAILURES):
        sign_in(Client(), analyst.username, "wrong")
    client = Client()

    response = client.post(
        reverse("admin:login"), {"username": analyst.username, "password": PASSWORD}, REMOTE_ADDR=ADDRESS
    )

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert LOCKED in response.content.decode()


def test_a_partner_user_chooses_the_customer_it_acts_for() -> None:
    partner = make_partner()
    first, second = make_tenant(partner=partner), make_tenant(partner=partner)
    make_tenant()  # not served by the partner
    user = make_partner_user(partner)
    client = Client()
    login_verified(client, user)

    response = client.get(reverse("incidents:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("tenants:choose"))
    chooser = client.get(response["Location"])
    assert {t.pk for t in chooser.context["tenants"]} == {first.pk, second.pk}

    chosen = client.post(reverse("tenants:choose"), {"tenant": second.pk, "next": reverse("incidents:list")})

    assert chosen["Location"] == reverse("incidents:list")
    page = client.get(reverse("incidents:list"))
    assert page.wsgi_request.acting.tenant == second
    assert "Switch customer" in page.content.decode()
    # An incident of the other served customer opens directly, and the pages then act for it.
    incident = make_incident(first)
    assert client.get(reverse("incidents:detail", args=[incident.pk])).status_code == 200
    assert client.get(reverse("home")).wsgi_request.acting.tenant == first


def test_a_chooser_next_address_elsewhere_is_ignored(tenant: Tenant, viewer: Any) -> None:
    client = Client()
    login_verified(client, viewer)

    response = client.post(reverse("tenants:choose"), {"tenant": tenant.pk, "next": "https://evil.example/"})

    assert response["Location"] == reverse("home")


def test_mdr_staff_read_customer_pages_and_decide_nothing(analyst: Any) -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    client = Client()
    login_verified(client, analyst)
    client.post(reverse("tenants:choose"), {"tenant": tenant.pk})

    assert client.get(reverse("incidents:detail", args=[incident.pk])).status_code == 200
    assert client.get(reverse("incidents:approvals")).status_code == 403
    assert client.get(reverse("tenants:contact_add")).status_code == 403


def test_a_user_without_any_customer_is_refused() -> None:
    client = Client()
    login_verified(client, make_user())

    assert client.get(reverse("home")).status_code == 403


def test_pages_carry_strict_security_headers() -> None:
    client = Client()
    login_verified(client, make_member(make_tenant()))

    response = client.get(reverse("tenants:settings"))

    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    assert "<script>" not in response.content.decode()  # inline scripts would be blocked


def test_production_settings_pass_the_deployment_checks(tmp_path: Path) -> None:
    unset = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "CONNECTOR_ALLOW_LOCAL_URLS"}
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    env = {
        **clean,
        "DJANGO_SETTINGS_MODULE": "mdrportal.settings",
        "MDR_VAR_DIR": str(tmp_path),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "SECRETS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "portal.example.com",
        "PUBLIC_BASE_URL": "https://portal.example.com",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
