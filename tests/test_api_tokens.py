"""Personal API tokens: the second factor on the token path, deciding within the step-up window, digests
instead of keys, expiry, listing and revoking, and revocation with every session when credentials change."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from mdrportal.api.auth import CODE_NEEDED, MAX_TOKENS_PER_USER, NOT_ENROLLED, TOO_MANY
from mdrportal.web import second_factor
from tenants.api_tokens import api_token_revoke, user_deactivate
from tenants.models import ApiToken, Role, Tenant
from tests.credentials import api_client_for, api_token_for, revoked_api_client_for
from tests.factories import (
    PASSWORD,
    login_verified,
    make_incident,
    make_member,
    make_relaxed_viewer,
    propose,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]
TOKEN_URL = "/api/v1/auth/token/"
TOKENS_URL = "/api/v1/auth/tokens/"
APPROVALS = reverse("incidents:approvals")


def ask(user: Any, **extra: str) -> Any:
    return APIClient().post(
        TOKEN_URL, {"username": user.username, "password": PASSWORD, **extra}, format="json"
    )


def authorize(client: APIClient, tenant: Tenant) -> Any:
    action = propose(make_incident(tenant), "isolate_endpoint")
    return client.post(f"/api/v1/actions/{action.pk}/authorize/", {"statement": "go"}, format="json")


def works(client: APIClient) -> bool:
    return client.get("/api/v1/incidents/").status_code == 200


# The second factor on the token path


def test_a_password_alone_gets_no_token_for_a_user_who_needs_a_second_factor(tenant: Tenant) -> None:
    admin = make_member(tenant, Role.ADMIN)
    TOTPDevice.objects.create(user=admin, name="app", confirmed=True)
    not_enrolled = make_member(tenant, Role.APPROVER)

    refused = ask(admin)
    never_set_up = ask(not_enrolled)

    assert refused.status_code == 400 and refused.json() == {"otp": [CODE_NEEDED]}
    assert never_set_up.status_code == 400 and never_set_up.json() == {"otp": [NOT_ENROLLED]}
    assert not ApiToken.objects.exists()


def test_a_code_gets_a_token_that_decides(tenant: Tenant, approver: Any) -> None:
    device = TOTPDevice.objects.create(user=approver, name="app", confirmed=True)

    issued = ask(approver, otp=f"{totp(device.bin_key):06d}")

    assert issued.status_code == 200 and issued.json()["decides"] is True
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {issued.json()['token']}")
    assert authorize(client, tenant).status_code == 200


def test_a_token_decides_within_the_step_up_window_and_is_refused_after_it(
    tenant: Tenant, approver: Any, settings: Any
) -> None:
    settings.SECOND_FACTOR_STEP_UP_HOURS = 12
    recent = api_client_for(approver, second_factor_age=timedelta(hours=11, minutes=50))
    stale = api_client_for(approver, second_factor_age=timedelta(hours=12, minutes=10))

    assert authorize(recent, tenant).status_code == 200
    refused = authorize(stale, tenant)

    assert refused.status_code == 403
    assert "more than 12 hours ago" in refused.json()["detail"] and "otp" in refused.json()["detail"]
    assert works(stale)  # it still reads: only deciding needs the recent second factor


def test_a_token_made_without_a_code_never_decides_however_new(tenant: Tenant, approver: Any) -> None:
    plain = api_client_for(approver, second_factor_age=None)

    refused = authorize(plain, tenant)

    assert refused.status_code == 403 and "created with a second-factor code" in refused.json()["detail"]


# Storage and expiry


def test_the_key_is_shown_once_and_only_its_digest_is_stored() -> None:
    user = make_relaxed_viewer()

    key = ask(user).json()["token"]

    token = ApiToken.objects.get(user=user)
    assert token.digest == hashlib.sha256(key.encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM tenants_apitoken")
        rows = repr(cursor.fetchall())
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone() == (0,)
    assert key not in rows


def test_a_token_expires_after_the_configured_days(settings: Any) -> None:
    settings.API_TOKEN_TTL_DAYS = 7
    user = make_relaxed_viewer()
    body = ask(user).json()
    token = ApiToken.objects.get(pk=body["id"])
    assert token.expires_at - token.created_at == timedelta(days=7)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert works(client)

    # Seven days on.
    ApiToken.objects.filter(pk=token.pk).update(
        created_at=token.created_at - timedelta(days=7), expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = client.get("/api/v1/incidents/")
    assert response.status_code == 401 and "expired" in response.json()["detail"]


# Listing and revoking


def test_a_person_with_too_many_tokens_is_told_to_revoke_one_before_any_code_is_used(approver: Any) -> None:
    tokens = [api_token_for(approver, second_factor_age=None)[0] for _ in range(MAX_TOKENS_PER_USER)]
    recovery = second_factor.recovery_codes_renew(user=approver)[0]

    refused = ask(approver, otp=recovery)

    assert refused.status_code == 400 and refused.json() == {"non_field_errors": [TOO_MANY]}
    assert api_token_revoke(user=approver, token_id=tokens[0].pk)
    assert ask(approver, otp=recovery).status_code == 200  # the recovery code was not used up by the refusal


def test_the_owner_lists_their_tokens_without_keys_and_revokes_one(approver: Any) -> None:
    first, first_key = api_token_for(approver, second_factor_age=timedelta(hours=1))
    client = api_client_for(approver, second_factor_age=None)
    api_client_for(make_relaxed_viewer(), second_factor_age=None)  # someone else's

    listed = client.get(TOKENS_URL).json()["results"]

    assert [row["id"] for row in listed] == list(
        ApiToken.objects.filter(user=approver).values_list("pk", flat=True)
    )
    assert set(listed[0]) == {"id", "created_at", "expires_at", "last_used_at", "second_factor_at", "decides"}
    assert first_key not in repr(listed)
    older = next(row for row in listed if row["id"] == first.pk)
    assert older["second_factor_at"] is not None and older["decides"] is True
    assert listed[0]["last_used_at"] is not None  # the listing's own token, used just now

    assert client.delete(f"{TOKENS_URL}{first.pk}/").status_code == 204

    revoked = APIClient()
    revoked.credentials(HTTP_AUTHORIZATION=f"Token {first_key}")
    assert revoked.get("/api/v1/incidents/").status_code == 401
    assert [row["id"] for row in client.get(TOKENS_URL).json()["results"]] == [listed[0]["id"]]
    assert not ApiToken.objects.filter(pk=first.pk).exists()


def test_a_token_revoked_by_its_owner_no_longer_works(approver: Any) -> None:
    assert revoked_api_client_for(approver).get("/api/v1/incidents/").status_code == 401


def test_an_outsider_cannot_revoke_anothers_token(approver: Any) -> None:
    token, key = api_token_for(approver, second_factor_age=None)
    outsider = api_client_for(make_relaxed_viewer(), second_factor_age=None)

    assert outsider.delete(f"{TOKENS_URL}{token.pk}/").status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_an_mdr_lead_revokes_a_token_in_the_admin(lead_client: Client, approver: Any) -> None:
    token, _key = api_token_for(approver, second_factor_age=None)
    changelist = reverse("admin:tenants_apitoken_changelist")
    assert approver.username in lead_client.get(changelist).content.decode()

    response = lead_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [token.pk], "post": "yes"}
    )

    assert response.status_code == 302
    assert not ApiToken.objects.filter(pk=token.pk).exists()


def test_an_analyst_can_neither_see_nor_revoke_tokens(analyst_client: Client, approver: Any) -> None:
    token, _key = api_token_for(approver, second_factor_age=None)
    changelist = reverse("admin:tenants_apitoken_changelist")

    assert analyst_client.get(changelist).status_code == 403
    analyst_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [token.pk], "post": "yes"}
    )
    assert ApiToken.objects.filter(pk=token.pk).exists()


# Revocation with the sessions when credentials change


def signed_in_everywhere(user: Any) -> tuple[Client, APIClient]:
    """A browser session that passed the second factor, and a token that may decide."""
    browser = Client()
    login_verified(browser, user)
    assert browser.get(APPROVALS).status_code == 200
    api = api_client_for(user, second_factor_age=timedelta(0))
    assert works(api)
    return browser, api


def assert_signed_out(browser: Client, api: APIClient) -> None:
    page = browser.get(APPROVALS)
    assert page.status_code == 302 and page["Location"].startswith(reverse("login"))
    assert api.get("/api/v1/incidents/").status_code == 401


def test_a_second_factor_reset_revokes_the_tokens_and_sessions(
    lead_client: Client, tenant: Tenant, approver: Any
) -> None:
    browser, api = signed_in_everywhere(approver)
    bystander_browser, bystander_api = signed_in_everywhere(make_member(tenant, Role.APPROVER))

    lead_client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "reset_second_factor", "_selected_action": [approver.pk]},
    )

    assert_signed_out(browser, api)
    assert not ApiToken.objects.filter(user=approver).exists()
    assert bystander_browser.get(APPROVALS).status_code == 200 and works(bystander_api)
    assert lead_client.get(reverse("admin:index")).status_code == 200


def test_a_password_changed_in_the_admin_revokes_the_tokens_and_sessions(
    lead_client: Client, approver: Any
) -> None:
    browser, api = signed_in_everywhere(approver)
    new = "another-horse-battery-staple"

    response = lead_client.post(
        reverse("admin:auth_user_password_change", args=[approver.pk]),
        {"password1": new, "password2": new, "usable_password": "true"},
    )

    assert response.status_code == 302
    assert_signed_out(browser, api)
    assert not ApiToken.objects.filter(user=approver).exists()


def test_a_password_set_on_any_path_ends_the_tokens_made_under_the_old_one(approver: Any) -> None:
    api = api_client_for(approver, second_factor_age=timedelta(0))

    approver.set_password("another-horse-battery-staple")  # as `manage.py changepassword` does
    approver.save()

    assert api.get("/api/v1/incidents/").status_code == 401


def test_the_own_password_changed_in_the_admin_keeps_that_session(lead_client: Client, lead: Any) -> None:
    other_browser, api = Client(), api_client_for(lead, second_factor_age=timedelta(0))
    login_verified(other_browser, lead)
    new = "another-horse-battery-staple"

    lead_client.post(
        reverse("admin:password_change"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )

    assert lead_client.get(reverse("admin:index")).status_code == 200
    assert other_browser.get(reverse("admin:index")).status_code == 302
    assert api.get("/api/v1/incidents/").status_code == 401


def test_a_deactivation_revokes_the_tokens_and_sessions(approver: Any) -> None:
    browser, api = signed_in_everywhere(approver)

    user_deactivate(user=approver)

    assert_signed_out(browser, api)
    assert not ApiToken.objects.filter(user=approver).exists()
    assert not [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(approver.pk)]


def test_a_second_factor_reset_ends_the_session_before_it_could_enrol_a_new_authenticator(
    approver: Any,
) -> None:
    browser = Client()
    login_verified(browser, approver)

    second_factor.second_factor_reset(user=approver)

    response = browser.get(reverse("second_factor"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_owner_sees_and_revokes_their_tokens_on_the_account_page(approver: Any) -> None:
    token, key = api_token_for(approver, second_factor_age=timedelta(hours=13))
    someone_elses, _ = api_token_for(make_relaxed_viewer(), second_factor_age=None)
    browser = Client()
    login_verified(browser, approver)

    page = browser.get(reverse("api_tokens")).content.decode()

    assert f'id="token-{token.pk}"' in page and "too long ago to decide" in page
    assert key not in page and f'id="token-{someone_elses.pk}"' not in page
    response = browser.post(reverse("api_token_revoke", args=[token.pk]))
    assert response.status_code == 302
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert browser.post(reverse("api_token_revoke", args=[someone_elses.pk])).status_code == 404
    assert ApiToken.objects.filter(pk=someone_elses.pk).exists()


def test_a_user_deactivated_in_the_admin_loses_their_tokens_and_sessions(
    superuser_client: Client, approver: Any
) -> None:
    browser, api = signed_in_everywhere(approver)
    url = reverse("admin:auth_user_change", args=[approver.pk])
    form = superuser_client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if name not in ("password", "is_active")}
    data = {name: value for name, value in data.items() if value is not None}
    for name, value in list(data.items()):
        if hasattr(value, "strftime"):  # the admin's split date and time inputs
            del data[name]
            data[f"{name}_0"], data[f"{name}_1"] = value.strftime("%Y-%m-%d"), value.strftime("%H:%M:%S")

    response = superuser_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    approver.refresh_from_db()
    assert not approver.is_active
    assert_signed_out(browser, api)
    assert not ApiToken.objects.filter(user=approver).exists()


# The plain tokens stored before


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_drops_the_plain_tokens_stored_before() -> None:
    user = make_relaxed_viewer()
    before = ("tenants", "0010_contact_channels")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old_apps = executor.loader.project_state([before]).apps
    plain = old_apps.get_model("authtoken", "Token").objects.create(user_id=user.pk, key="a" * 40)
    old_apps.get_model("tenants", "ApiTokenSecondFactor").objects.create(
        token=plain, verified_at=timezone.now()
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone() == (0,)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {'a' * 40}")
    assert client.get("/api/v1/incidents/").status_code == 401
