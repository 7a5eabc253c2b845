"""The incident page's action rows: a cancel button on what waits or is queued, a retry button on what
failed (in the admin and the API), each through its service."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from incidents.models import ResponseAction
from tenants.models import ResponseMode, Role
from tests.factories import as_user, make_incident, make_member, make_tenant, propose
from tests.incident_admin import change_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


def failed_action() -> ResponseAction:
    incident = make_incident(make_tenant(mode=ResponseMode.AUTHORIZE))
    action = propose(incident, "isolate_endpoint", "KIOSK-07")  # queued on the basis authorize_mode
    ResponseAction.objects.filter(pk=action.pk).update(status="failed", next_attempt_at=None)
    return ResponseAction.objects.get(pk=action.pk)


def test_a_waiting_action_has_a_cancel_button_that_cancels_it(analyst_client: Client) -> None:
    action = propose(make_incident(make_tenant()), "isolate_endpoint")
    cancel = reverse("admin:incidents_responseaction_cancel", args=[action.pk])

    page = analyst_client.get(change_url(action.incident)).content.decode()
    response = analyst_client.post(cancel, {"reason": "Customer isolated it already"})

    assert f'href="{cancel}"' in page
    assert reverse("admin:incidents_responseaction_retry", args=[action.pk]) not in page
    assert response.status_code == 302
    assert ResponseAction.objects.get(pk=action.pk).status == "canceled"


def test_a_failed_action_has_a_retry_button_that_proposes_it_again(
    analyst_client: Client, analyst: Any
) -> None:
    action = failed_action()
    retry = reverse("admin:incidents_responseaction_retry", args=[action.pk])

    page = analyst_client.get(change_url(action.incident)).content.decode()
    response = analyst_client.post(retry, {"confirm": "on"})

    assert f'href="{retry}"' in page
    assert response.status_code == 302
    again = ResponseAction.objects.exclude(pk=action.pk).get(incident=action.incident)
    assert (again.target, again.status, again.proposed_by) == ("KIOSK-07", "queued", analyst)
    assert ResponseAction.objects.get(pk=action.pk).status == "failed"


def test_only_a_failed_action_is_retried(analyst_client: Client, analyst: Any) -> None:
    action = propose(make_incident(make_tenant()), "isolate_endpoint")

    response = analyst_client.post(
        reverse("admin:incidents_responseaction_retry", args=[action.pk]), {"confirm": "on"}
    )
    api = as_user(analyst).post(f"/api/v1/actions/{action.pk}/retry/")

    assert response.status_code == 200 and "only a failed action can be retried" in response.content.decode()
    assert api.status_code == 400
    assert ResponseAction.objects.filter(incident=action.incident).count() == 1


def test_the_api_retries_a_failed_action(analyst: Any) -> None:
    action = failed_action()

    response = as_user(analyst).post(f"/api/v1/actions/{action.pk}/retry/")

    assert response.status_code == 201, response.json()
    assert (response.json()["target"], response.json()["status"]) == ("KIOSK-07", "queued")


@pytest.mark.parametrize("role", list(Role))
def test_no_customer_role_retries(role: Role) -> None:
    action = failed_action()

    response = as_user(make_member(action.incident.tenant, role)).post(f"/api/v1/actions/{action.pk}/retry/")

    assert response.status_code == 403
    assert ResponseAction.objects.filter(incident=action.incident).count() == 1


def test_an_outsider_does_not_find_the_action() -> None:
    action = failed_action()

    response = as_user(make_member(make_tenant(), Role.ADMIN)).post(f"/api/v1/actions/{action.pk}/retry/")

    assert response.status_code == 404
