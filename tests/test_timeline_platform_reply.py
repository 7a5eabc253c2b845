"""A platform's reply on the timeline: a short plain reason for customer users, the whole answer for MDR staff."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from incidents.connector_settings import connector_configure
from incidents.connectors.http import Answer, error_text, read_answer
from incidents.execution import action_run
from incidents.models import ActionStatus, EventKind
from tenants.models import ResponseMode, Role
from tests.factories import login_verified, make_incident, make_member, make_tenant, make_user, propose
from tests.fakes.http_server import (
    FakeHTTPServer,
    Reply,
    fake_http_server as fake_http_server,  # a fixture
)

pytestmark = pytest.mark.django_db

INTERNALS = "stack: at com.vendor.Isolation(db=10.1.2.3, user=svc_edr)"
REASON = "Endpoint is not managed by this tenant"


def failed_action(server: FakeHTTPServer):
    server.script("/hook", Reply(400, {"message": REASON, "trace": INTERNALS * 20}))
    tenant = make_tenant(mode=ResponseMode.AUTHORIZE)
    connector_configure(tenant=tenant, by=None, kind="webhook", url=server.url + "/hook", secret="k")
    action = propose(make_incident(tenant), "isolate_endpoint")
    action_run(action.pk)
    action.refresh_from_db()
    assert action.status == ActionStatus.FAILED
    return action


def test_customer_users_read_the_reason_but_not_the_platform_answer(fake_http_server) -> None:
    action = failed_action(fake_http_server)
    incident, tenant = action.incident, action.incident.tenant
    client = Client()
    login_verified(client, make_member(tenant, Role.VIEWER))

    events = client.get(f"/api/v1/incidents/{incident.pk}/timeline/").json()["results"]
    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()

    [failed] = [e for e in events if e["kind"] == EventKind.ACTION_FAILED]
    assert REASON in failed["summary"]
    assert failed["data"]["details"] == {"status": 400}
    assert "10.1.2.3" not in str(events) and "svc_edr" not in str(events)
    assert REASON in page and "10.1.2.3" not in page


def test_mdr_staff_read_the_whole_answer(fake_http_server) -> None:
    action = failed_action(fake_http_server)
    client = Client()
    login_verified(client, make_user("analyst", staff=True, group="MDR Ops"))
    events = client.get(f"/api/v1/incidents/{action.incident.pk}/timeline/").json()["results"]
    [failed] = [e for e in events if e["kind"] == EventKind.ACTION_FAILED]
    assert "10.1.2.3" in str(failed["data"]["details"]["response"])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>", "no readable reason given"),
        ({"message": "line one\n\x1b[31mline two\x00"}, "line one line two"),
        ({"error": "x" * 1000}, "x" * 159 + "…"),
        ("", "no reason given"),
    ],
)
def test_the_reason_is_short_plain_text(body, expected: str) -> None:
    assert error_text(body) == expected


def test_a_refusal_message_never_carries_the_whole_body() -> None:
    result = read_answer(
        platform="Webhook", answer=Answer(status=403, text="<pre>" + INTERNALS * 50 + "</pre>")
    )
    assert INTERNALS not in result.message and len(result.message) < 200
