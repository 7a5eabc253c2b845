"""The second factor: enrolment at first sign-in, the check after it, who needs it, step-up for deciding
in the portal, and API tokens that may decide."""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from incidents.models import Authorization
from mdrportal.web import second_factor
from tenants.models import ApiToken, Role, Tenant
from tenants.services import tenant_update_settings
from tests.credentials import api_client_for
from tests.factories import (
    PASSWORD,
    login_verified,
    make_incident,
    make_member,
    make_tenant,
    propose,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]
HOME = reverse("home")
SECOND_FACTOR = reverse("second_factor")
APPROVALS = reverse("incidents:approvals")


def code(key: bytes, later: int = 0) -> str:
    """The code an authenticator app shows now (or `later` 30-second steps from now)."""
    return f"{totp(key, drift=later):06d}"


def sign_in(client: Client, user: Any) -> Any:
    return client.post(reverse("login"), {"username": user.username, "password": PASSWORD}, follow=True)


def test_an_approver_signing_in_the_first_time_sets_up_the_authenticator_and_gets_recovery_codes(
    settings: Any,
) -> None:
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # a wrong code otherwise makes the next one wait a second
    tenant = make_tenant()
    approver = make_member(tenant, Role.APPROVER)
    client = Client()

    page = sign_in(client, approver)

    assert page.redirect_chain[-1][0].startswith(f"{SECOND_FACTOR}?next=")
    html = page.content.decode()
    secret = re.search(r'<code id="totp-secret">([A-Z2-7=]+)</code>', html).group(1)
    assert 'src="data:image/svg+xml' in html  # the QR code of the otpauth address
    assert client.get(HOME)["Location"].startswith(SECOND_FACTOR)  # nothing else until then
    key = base64.b32decode(secret)
    refused = client.post(SECOND_FACTOR, {"code": f"{(int(code(key)) + 1) % 1000000:06d}", "next": HOME})
    assert refused.status_code == 400

    done = client.post(SECOND_FACTOR, {"code": code(key), "next": HOME})

    assert done.status_code == 200
    assert len(done.context["codes"]) == 10
    assert client.get(HOME).status_code == 200
    device = TOTPDevice.objects.get(user=approver)
    assert device.confirmed and device.bin_key == key


def test_a_later_sign_in_asks_for_a_code_and_a_recovery_code_works_once() -> None:
    approver = make_member(make_tenant(), Role.APPROVER)
    device = TOTPDevice.objects.create(user=approver, name="app", confirmed=True)
    codes = second_factor.recovery_codes_renew(user=approver)
    client = Client()
    sign_in(client, approver)
    assert "Confirm it's you" in client.get(SECOND_FACTOR).content.decode()

    assert client.post(SECOND_FACTOR, {"code": codes[0], "next": HOME})["Location"] == HOME
    assert client.get(HOME).status_code == 200
    again = Client()
    sign_in(again, approver)
    assert again.post(SECOND_FACTOR, {"code": codes[0], "next": HOME}).status_code == 400  # used up
    assert StaticToken.objects.filter(device__user=approver).count() == 9
    assert again.post(SECOND_FACTOR, {"code": code(device.bin_key), "next": HOME})["Location"] == HOME


def test_a_code_is_not_accepted_twice() -> None:
    approver = make_member(make_tenant(), Role.APPROVER)
    device = TOTPDevice.objects.create(user=approver, name="app", confirmed=True)
    first, second = Client(), Client()
    sign_in(first, approver)
    sign_in(second, approver)
    now = code(device.bin_key)

    assert first.post(SECOND_FACTOR, {"code": now}).status_code == 302
    assert second.post(SECOND_FACTOR, {"code": now}).status_code == 400


def test_mdr_staff_cannot_use_the_admin_before_passing_the_second_factor(analyst: Any) -> None:
    client = Client()
    client.force_login(analyst)

    response = client.get(reverse("admin:incidents_incident_changelist"))

    assert response.status_code == 302 and response["Location"].startswith(f"{SECOND_FACTOR}?next=")
    assert client.get("/api/v1/incidents/").status_code == 403  # the API by session too
    login_verified(client, analyst)
    assert client.get(reverse("admin:incidents_incident_changelist")).status_code == 200


@pytest.mark.parametrize(
    ("role", "relaxed", "asked"),
    [
        (Role.VIEWER, False, True),
        (Role.VIEWER, True, False),
        (Role.APPROVER, True, True),
        (Role.ADMIN, True, True),
    ],
)
def test_only_viewers_of_a_tenant_that_relaxed_it_go_without(role: str, relaxed: bool, asked: bool) -> None:
    tenant = make_tenant()
    if relaxed:
        tenant_update_settings(tenant=tenant, by=None, viewers_need_second_factor=False)
    client = Client()
    client.force_login(make_member(tenant, role))

    response = client.get(HOME)

    assert (response.status_code == 302 and response["Location"].startswith(SECOND_FACTOR)) is asked


def test_a_viewer_of_one_relaxed_and_one_strict_tenant_needs_it() -> None:
    relaxed, strict = make_tenant(), make_tenant()
    tenant_update_settings(tenant=relaxed, by=None, viewers_need_second_factor=False)
    user = make_member(relaxed, Role.VIEWER)
    make_member(strict, Role.VIEWER, username=None)
    Tenant.objects.get(pk=strict.pk).memberships.create(user=user, role=Role.VIEWER)

    assert second_factor.needs_second_factor(user)


def test_relaxing_it_for_viewers_is_audited_and_for_mdr_leads_in_the_admin(lead_client: Client) -> None:
    tenant = make_tenant()

    tenant_update_settings(tenant=tenant, by=None, viewers_need_second_factor=False)

    assert tenant.settings_changes.filter(field="viewers_need_second_factor").exists()
    page = lead_client.get(reverse("admin:tenants_tenant_change", args=[tenant.pk]))
    assert "viewers_need_second_factor" in page.content.decode()


def stale(client: Client, hours: float = 12.5) -> None:
    session = client.session
    session[second_factor.SESSION_KEY]["at"] = time.time() - hours * 3600
    session.save()


def test_deciding_in_the_portal_needs_a_second_factor_within_twelve_hours(
    tenant: Tenant, approver: Any
) -> None:
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    client = Client()
    device = login_verified(client, approver)
    stale(client)
    assert client.get(APPROVALS).status_code == 200  # reading is fine
    decide = reverse("incidents:decide", args=[incident.pk])
    data = {"actions": [action.pk], "decision": "granted", "statement": "Isolate it."}

    refused = client.post(decide, data)

    assert refused.status_code == 302
    assert refused["Location"].startswith(f"{SECOND_FACTOR}?next=") and "step_up=1" in refused["Location"]
    assert not Authorization.objects.exists()
    assert (
        client.post(SECOND_FACTOR, {"code": code(device.bin_key), "next": APPROVALS})["Location"] == APPROVALS
    )
    assert client.post(decide, data).status_code == 302
    assert Authorization.objects.get().decision == "granted"


def test_changing_the_response_mode_in_the_portal_needs_a_recent_second_factor(
    tenant: Tenant, customer_admin: Any
) -> None:
    client = Client()
    login_verified(client, customer_admin)
    stale(client)
    data = {
        "response_mode": "authorize",
        "call_attempts_per_contact": 1,
        "ring_timeout_seconds": 30,
        "timezone": "UTC",
        "reminder_minutes": 15,
        "reminder_count": 4,
    }

    refused = client.post(reverse("tenants:settings"), data)

    assert "step_up=1" in refused["Location"]
    tenant.refresh_from_db()
    assert tenant.response_mode == "collaborate"
    stale(client, hours=11.5)
    assert client.post(reverse("tenants:settings"), data).status_code == 302
    tenant.refresh_from_db()
    assert tenant.response_mode == "authorize"


def test_an_api_decision_needs_a_token_created_with_a_second_factor() -> None:
    tenant = make_tenant()
    action = propose(make_incident(tenant), "isolate_endpoint")
    approver = make_member(tenant, Role.APPROVER)
    device = TOTPDevice.objects.create(user=approver, name="app", confirmed=True)
    plain = api_client_for(approver, second_factor_age=None)
    url = f"/api/v1/actions/{action.pk}/authorize/"

    refused = plain.post(url, {"statement": "yes"}, format="json")

    assert refused.status_code == 403 and "second-factor" in refused.json()["detail"]
    credentials = {"username": approver.username, "password": PASSWORD}
    wrong = APIClient().post("/api/v1/auth/token/", {**credentials, "otp": "000000x"}, format="json")
    assert wrong.status_code == 400 and set(wrong.json()) == {"otp"}
    issued = APIClient().post(
        "/api/v1/auth/token/", {**credentials, "otp": code(device.bin_key)}, format="json"
    )
    assert issued.status_code == 200 and issued.json()["decides"] is True
    token = ApiToken.objects.get(pk=issued.json()["id"])
    assert token.second_factor_at is not None
    # The token made without the second factor is never upgraded by the new one.
    assert plain.post(url, {"statement": "yes"}, format="json").status_code == 403
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issued.json()['token']}")
    assert client.post(url, {"statement": "yes"}, format="json").status_code == 200


def test_an_mdr_lead_resets_a_lost_second_factor_from_the_admin(lead_client: Client) -> None:
    user = make_member(make_tenant(), Role.APPROVER)
    TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    second_factor.recovery_codes_renew(user=user)

    lead_client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "reset_second_factor", "_selected_action": [user.pk]},
    )

    assert not TOTPDevice.objects.filter(user=user).exists()
    client = Client()
    assert "Set up your second factor" in sign_in(client, user).content.decode()


def test_an_analyst_cannot_reset_a_second_factor(analyst_client: Client, approver: Any) -> None:
    user = approver
    TOTPDevice.objects.create(user=user, name="app", confirmed=True)

    analyst_client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "reset_second_factor", "_selected_action": [user.pk]},
    )

    assert TOTPDevice.objects.filter(user=user).exists()
    assert Group.objects.filter(name="MDR Ops").exists()


def test_the_authorization_evidence_records_the_client_behind_the_trusted_proxy(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    tenant = make_tenant()
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    client = Client()
    login_verified(client, make_member(tenant, Role.APPROVER))

    client.post(
        reverse("incidents:decide", args=[incident.pk]),
        {"actions": [action.pk], "decision": "granted", "statement": "Isolate it."},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="192.0.2.1, 198.51.100.23",
    )

    assert Authorization.objects.get().ip_address == "198.51.100.23"


def test_an_api_decision_by_browser_session_needs_a_recent_second_factor(
    tenant: Tenant, approver: Any
) -> None:
    action = propose(make_incident(tenant), "isolate_endpoint")
    client = APIClient()
    login_verified(client, approver)
    stale(client)
    url = f"/api/v1/actions/{action.pk}/authorize/"

    assert client.post(url, {"statement": "yes"}, format="json").status_code == 403
    stale(client, hours=1)
    assert client.post(url, {"statement": "yes"}, format="json").status_code == 200
