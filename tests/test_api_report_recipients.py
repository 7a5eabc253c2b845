"""REST API: a tenant's monthly report recipients, its off switch and a resend; who may read and change
them (customer admins, MDR leads, a partner's admins under the settings delegation), the history of each."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from reports.models import MonthlyReport, ReportRecipient, ReportSend
from reports.recipients import report_recipient_add
from tenants.models import Role, SettingsChange
from tests.factories import (
    as_user,
    make_analyst,
    make_lead,
    make_member,
    make_partner,
    make_partner_user,
    make_tenant,
)

pytestmark = pytest.mark.django_db

FEBRUARY = "2026-02-01"


def urls(tenant: Any, recipient: Any = None) -> dict[str, str]:
    base = f"/api/v1/tenants/{tenant.pk}"
    one = f"{base}/report-recipients/{recipient.pk if recipient else 0}/"
    return {
        "list": f"{base}/report-recipients/",
        "one": one,
        "resend": f"{one}resend/",
        "switch": f"{base}/monthly-report/",
    }


def writes(client: Any, tenant: Any, recipient: Any) -> list[int]:
    """The status of each write: add, resend, switch off, remove."""
    url = urls(tenant, recipient)
    return [
        client.post(url["list"], {"email": "new@example.com"}, format="json").status_code,
        client.post(url["resend"], {"period_start": FEBRUARY}, format="json").status_code,
        client.put(url["switch"], {"enabled": False}, format="json").status_code,
        client.delete(url["one"]).status_code,
    ]


@pytest.fixture
def world() -> dict[str, Any]:
    partner = make_partner()
    tenant = make_tenant(partner=partner)
    recipient = report_recipient_add(tenant=tenant, by=None, email="cfo@example.com")
    return {"partner": partner, "tenant": tenant, "recipient": recipient}


ALLOWED = [201, 202, 200, 204]


@pytest.mark.parametrize("who", ["customer admin", "MDR lead", "partner admin with delegation"])
def test_who_may_change_the_monthly_report(world: dict[str, Any], who: str) -> None:
    tenant = world["tenant"]
    if who == "customer admin":
        user = make_member(tenant, Role.ADMIN)
    elif who == "MDR lead":
        user = make_lead()
    else:
        tenant.partner_manages_settings = True
        tenant.save()
        user = make_partner_user(world["partner"], Role.ADMIN)
    assert writes(as_user(user), tenant, world["recipient"]) == ALLOWED
    assert ReportRecipient.objects.filter(tenant=tenant, active=True).get().email == "new@example.com"
    assert not MonthlyReport.objects.get(tenant=tenant).enabled
    send = ReportSend.objects.get()
    assert (send.period_start, send.number) == (date(2026, 2, 1), 1)
    assert user.get_username() in send.requested_by
    changes = SettingsChange.objects.filter(tenant=tenant, actor=user).values_list("field", "subject")
    assert sorted(changes) == [
        ("monthly_report", ""),
        ("report_recipient", "cfo@example.com"),
        ("report_recipient", "new@example.com"),
    ]


@pytest.mark.parametrize("who", ["viewer", "approver", "partner admin without delegation", "MDR analyst"])
def test_who_reads_but_may_not_change_it(world: dict[str, Any], who: str) -> None:
    tenant, recipient = world["tenant"], world["recipient"]
    user = {
        "viewer": lambda: make_member(tenant, Role.VIEWER),
        "approver": lambda: make_member(tenant, Role.APPROVER),
        "partner admin without delegation": lambda: make_partner_user(world["partner"], Role.ADMIN),
        "MDR analyst": make_analyst,
    }[who]()
    client = as_user(user)
    listed = client.get(urls(tenant)["list"])
    assert listed.status_code == 200
    assert [r["email"] for r in listed.json()] == ["cfo@example.com"]
    assert client.get(urls(tenant)["switch"]).json() == {"enabled": True}
    assert writes(client, tenant, recipient) == [403] * 4
    assert not ReportSend.objects.exists() and not MonthlyReport.objects.exists()
    assert not SettingsChange.objects.filter(actor=user).exists()


def test_another_tenants_admin_gets_a_404_everywhere(world: dict[str, Any]) -> None:
    outsider = as_user(make_member(make_tenant(), Role.ADMIN))
    tenant = world["tenant"]
    assert outsider.get(urls(tenant)["list"]).status_code == 404
    assert outsider.get(urls(tenant)["switch"]).status_code == 404
    assert writes(outsider, tenant, world["recipient"]) == [404] * 4


def test_bad_input_is_a_field_error(world: dict[str, Any]) -> None:
    tenant, recipient = world["tenant"], world["recipient"]
    client = as_user(make_member(tenant, Role.ADMIN))
    url = urls(tenant, recipient)
    duplicate = client.post(url["list"], {"email": "cfo@example.com"}, format="json")
    assert duplicate.status_code == 400 and "already" in duplicate.json()["email"][0]
    assert client.post(url["list"], {"email": "nope"}, format="json").json().keys() == {"email"}
    unfinished = client.post(url["resend"], {"period_start": "2999-01-01"}, format="json")
    assert unfinished.status_code == 400 and "period" in unfinished.json()
    assert client.put(url["switch"], {}, format="json").json().keys() == {"enabled"}
    assert not ReportSend.objects.exists()


def test_a_removed_recipient_is_gone_from_the_list_and_cannot_be_resent(world: dict[str, Any]) -> None:
    tenant, recipient = world["tenant"], world["recipient"]
    client = as_user(make_member(tenant, Role.ADMIN))
    url = urls(tenant, recipient)
    assert client.delete(url["one"]).status_code == 204
    assert client.get(url["list"]).json() == []
    assert client.post(url["resend"], {"period_start": FEBRUARY}, format="json").status_code == 404
    assert client.delete(url["one"]).status_code == 404


def test_the_schema_documents_the_new_operations() -> None:
    schema = as_user(make_analyst()).get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/tenants/{tenant_id}/report-recipients/"])
    assert "delete" in paths["/api/v1/tenants/{tenant_id}/report-recipients/{id}/"]
    assert "post" in paths["/api/v1/tenants/{tenant_id}/report-recipients/{id}/resend/"]
    assert {"get", "put"} <= set(paths["/api/v1/tenants/{tenant_id}/monthly-report/"])
