"""REST API: tokens, authentication on every endpoint, sessions with CSRF, the schema and its docs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from incidents.models import Incident
from tenants.models import ApiToken
from tests.factories import PASSWORD, api_token, login_verified, make_relaxed_viewer, make_tenant

pytestmark = pytest.mark.django_db

# Every operation; ids that do not exist, because an anonymous caller must not learn even that.
ENDPOINTS = [
    ("get", "/api/v1/auth/tokens/"),
    ("delete", "/api/v1/auth/tokens/1/"),
    ("get", "/api/v1/auth/profile/"),
    ("patch", "/api/v1/auth/profile/"),
    ("get", "/api/v1/tenants/"),
    ("post", "/api/v1/tenants/"),
    ("get", "/api/v1/tenants/1/"),
    ("patch", "/api/v1/tenants/1/"),
    ("get", "/api/v1/tenants/1/contacts/"),
    ("post", "/api/v1/tenants/1/contacts/"),
    ("get", "/api/v1/contacts/1/"),
    ("patch", "/api/v1/contacts/1/"),
    ("get", "/api/v1/tenants/1/performers/"),
    ("patch", "/api/v1/tenants/1/performers/"),
    ("get", "/api/v1/partners/1/defaults/"),
    ("patch", "/api/v1/partners/1/defaults/"),
    ("get", "/api/v1/partners/1/customers/"),
    ("get", "/api/v1/partners/1/incidents/"),
    ("get", "/api/v1/partners/1/tasks/"),
    ("get", "/api/v1/partners/1/contacts/"),
    ("patch", "/api/v1/partners/1/contacts/1/availability/"),
    ("get", "/api/v1/partners/1/report-recipients/"),
    ("post", "/api/v1/partners/1/report-recipients/"),
    ("delete", "/api/v1/partners/1/report-recipients/1/"),
    ("post", "/api/v1/partners/1/report-recipients/1/resend/"),
    ("get", "/api/v1/partners/1/defaults/protected/"),
    ("post", "/api/v1/partners/1/defaults/protected/"),
    ("delete", "/api/v1/partners/1/defaults/protected/1/"),
    ("get", "/api/v1/tenants/1/protected/partner-list/"),
    ("put", "/api/v1/tenants/1/protected/partner-list/"),
    ("get", "/api/v1/tenants/1/protected/"),
    ("post", "/api/v1/tenants/1/protected/"),
    ("delete", "/api/v1/tenants/1/protected/1/"),
    ("get", "/api/v1/tenants/1/users/"),
    ("post", "/api/v1/tenants/1/users/"),
    ("get", "/api/v1/tenants/1/connector/"),
    ("put", "/api/v1/tenants/1/connector/"),
    ("get", "/api/v1/tenants/1/delegation/"),
    ("put", "/api/v1/tenants/1/delegation/"),
    ("get", "/api/v1/action-types/"),
    ("get", "/api/v1/case-templates/"),
    ("get", "/api/v1/incidents/"),
    ("post", "/api/v1/incidents/"),
    ("get", "/api/v1/incidents/1/"),
    ("patch", "/api/v1/incidents/1/"),
    ("get", "/api/v1/incidents/1/actions/"),
    ("post", "/api/v1/incidents/1/actions/"),
    ("get", "/api/v1/incidents/1/timeline/"),
    ("post", "/api/v1/incidents/1/assign/"),
    ("get", "/api/v1/incidents/1/messages/"),
    ("post", "/api/v1/incidents/1/messages/"),
    ("post", "/api/v1/incidents/1/actions/bulk/"),
    ("post", "/api/v1/incidents/1/apply-template/"),
    ("get", "/api/v1/incidents/1/notes/"),
    ("post", "/api/v1/incidents/1/notes/"),
    ("get", "/api/v1/incidents/1/observables/"),
    ("post", "/api/v1/incidents/1/observables/"),
    ("post", "/api/v1/incidents/1/escalate/"),
    ("post", "/api/v1/incidents/1/acknowledge/"),
    ("get", "/api/v1/actions/1/"),
    ("post", "/api/v1/actions/1/authorize/"),
    ("post", "/api/v1/actions/1/decline/"),
    ("post", "/api/v1/actions/1/cancel/"),
    ("post", "/api/v1/actions/1/retry/"),
    ("get", "/api/v1/tasks/"),
    ("get", "/api/v1/tasks/1/"),
    ("patch", "/api/v1/tasks/1/"),
    ("get", "/api/v1/reports/"),
    ("get", "/api/v1/tenants/1/report-recipients/"),
    ("post", "/api/v1/tenants/1/report-recipients/"),
    ("delete", "/api/v1/tenants/1/report-recipients/1/"),
    ("post", "/api/v1/tenants/1/report-recipients/1/resend/"),
    ("get", "/api/v1/tenants/1/monthly-report/"),
    ("put", "/api/v1/tenants/1/monthly-report/"),
]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_every_endpoint_refuses_an_anonymous_caller_with_a_401(method: str, url: str) -> None:
    response = getattr(APIClient(), method)(url, {}, format="json")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"


def test_a_wrong_token_is_a_401() -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert client.get("/api/v1/incidents/").status_code == 401


def test_a_user_who_needs_no_second_factor_gets_a_new_token_for_a_username_and_password() -> None:
    user = make_relaxed_viewer("reader")
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "reader", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == ApiToken.objects.get(user=user).pk and body["second_factor_at"] is None
    assert body["decides"] is False
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert client.get("/api/v1/incidents/").status_code == 200
    # No key is kept, so none is handed out twice: each request is a new token.
    again = APIClient().post("/api/v1/auth/token/", {"username": "reader", "password": PASSWORD})
    assert again.json()["token"] != body["token"]
    assert ApiToken.objects.filter(user=user).count() == 2


def test_a_wrong_password_or_missing_field_gets_no_token() -> None:
    make_relaxed_viewer("integrator")
    client = APIClient()
    response = client.post(
        "/api/v1/auth/token/", {"username": "integrator", "password": "guess"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"non_field_errors"}
    response = client.post("/api/v1/auth/token/", {"username": "integrator"}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"password"}
    assert not ApiToken.objects.exists()


def test_guessing_passwords_for_a_token_locks_the_username_like_the_login_page() -> None:
    make_relaxed_viewer("integrator")
    client = APIClient()
    for _ in range(5):
        client.post("/api/v1/auth/token/", {"username": "integrator", "password": "guess"}, format="json")
    response = client.post(
        "/api/v1/auth/token/", {"username": "integrator", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 429 and "sign-in is locked until" in response.json()["detail"]
    assert not ApiToken.objects.exists()


def test_an_inactive_user_gets_no_token_and_their_token_stops_working() -> None:
    user = make_relaxed_viewer("leaver")
    key = api_token(user)
    user.is_active = False
    user.save()
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "leaver", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 400
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/tenants/").status_code == 401


def test_a_logged_in_browser_session_works_and_its_writes_need_the_csrf_token(analyst: Any) -> None:
    tenant = make_tenant()
    browser = Client(enforce_csrf_checks=True)
    login_verified(browser, analyst)
    assert browser.get("/api/v1/incidents/").status_code == 200
    body = {"tenant": tenant.pk, "title": "From the browser"}
    response = browser.post("/api/v1/incidents/", body, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not Incident.objects.exists()


@pytest.mark.usefixtures("analyst")
def test_the_token_endpoint_ignores_a_browser_session_and_its_csrf() -> None:
    browser = Client(enforce_csrf_checks=True)
    assert browser.login(username="analyst", password=PASSWORD)
    response = browser.post(
        "/api/v1/auth/token/", {"username": "analyst", "password": PASSWORD}, content_type="application/json"
    )
    # Refused for the missing second-factor code (a CSRF refusal would be a 403).
    assert response.status_code == 400 and set(response.json()) == {"otp"}


def _schema(client: Any) -> dict[str, Any]:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def test_the_openapi_schema_describes_every_endpoint() -> None:
    schema = _schema(APIClient())
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "MDR Portal API"
    operations = {(method, path) for path, item in schema["paths"].items() for method in item}
    expected = {(method, url.replace("/1/", "/{id}/")) for method, url in ENDPOINTS}
    normalized = {
        (
            method,
            path.replace("{tenant_id}", "{id}").replace("{incident_id}", "{id}").replace("{slug}", "{id}"),
        )
        for method, path in operations
    }
    assert expected | {("post", "/api/v1/auth/token/")} == normalized


def test_the_schema_never_shows_a_secret_or_password_in_a_response() -> None:
    components = _schema(APIClient())["components"]["schemas"]
    assert "secret" not in components["Connector"]["properties"]
    assert "secret" in components["ConnectorRequest"]["properties"]
    assert "password" not in components["CustomerLogin"]["properties"]
    assert "password" in components["CustomerLoginRequest"]["properties"]


def test_the_contract_field_names_are_in_the_schema() -> None:
    components = _schema(APIClient())["components"]["schemas"]
    contract = {
        "Tenant": "id name slug tier response_mode authorize_on_no_ack timezone call_attempts_per_contact "
        "ring_timeout_seconds reminder_minutes reminder_count",
        "Contact": "id name email phone call_order can_authorize active windows away_periods "
        "channels sms_opted_out_at",
        "Performer": "action_type performer",
        "ActionType": "code name category revert_code",
        "Incident": "id tenant title severity summary observed_activity recommendations status "
        "needs_attention attention_reason attention_since owner detected_at opened_at",
        "Action": "id incident action_type target status performer basis decision_reason observables",
        "TimelineEvent": "id at kind actor channel summary data",
        "Task": "id incident tenant action_type action_name target performer status reason proposed_at "
        "updated_at",
    }
    for name, fields in contract.items():
        assert set(components[name]["properties"]) == set(fields.split()), name


def test_the_schema_builds_without_warnings(tmp_path: Path) -> None:
    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert yaml.safe_load(target.read_text())["paths"]


def test_the_docs_page_serves_swagger_ui() -> None:
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content
    script = Client().get("/api/docs/", {"script": ""})  # the page's own script, served as a file
    assert b"/api/schema/" in script.content
