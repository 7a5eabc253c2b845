"""Observables linked to the response actions that use them: by themselves when a proposal's target is an
observable of the incident (same normal value, a kind the action acts on), by an analyst in the admin, and
by bulk proposals from the incident's observables; shown on the incident's page and in the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from incidents.bulk import actions_propose_many, observables_of_kind
from incidents.models import ActionObservable, EventKind, Observable
from incidents.observable_links import action_link_observable
from incidents.observables import observable_add
from incidents.selectors import action_type_by_code
from tenants.models import Role
from tests.factories import as_user, make_incident, make_member, make_tenant, propose
from tests.incident_admin import change_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def observe(incident: Any, kind: str, value: str, by: Any = None) -> Observable:
    return observable_add(incident=incident, kind=kind, value=value, by=by)[0]


def test_a_proposal_whose_target_is_an_observable_is_linked_to_it(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    host = observe(incident, "host", "WS-0142")
    observe(incident, "account", "WS-0142")  # the same text, of a kind an isolation does not act on

    action = propose(incident, "isolate_endpoint", target="ws-0142 ", by=analyst)

    assert list(action.observables.all()) == [host]
    linked = incident.events.get(kind=EventKind.OBSERVABLE_LINKED)
    assert linked.data == {"action": action.pk, "observables": [host.pk]} and linked.actor == analyst


def test_a_target_in_another_form_matches_in_its_normal_form() -> None:
    incident = make_incident(make_tenant())
    sha = observe(incident, "sha256", HASH)
    address = observe(incident, "ip", "2001:db8::1")
    assert list(propose(incident, "block_sha256", target=HASH.upper()).observables.all()) == [sha]
    assert list(propose(incident, "block_ip", target="2001:DB8:0:0::1").observables.all()) == [address]


def test_no_link_without_a_matching_observable_or_to_another_incidents() -> None:
    incident, other = make_incident(make_tenant()), make_incident(make_tenant())
    observe(other, "host", "ws-0142")
    observe(incident, "host", "ws-0999")
    assert not propose(incident, "isolate_endpoint", target="WS-0142").observables.exists()
    assert not incident.events.filter(kind=EventKind.OBSERVABLE_LINKED).exists()


def test_bulk_proposals_from_the_observables_link_each_action_to_its_own(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    hosts = [observe(incident, "host", name) for name in ("kiosk-01", "kiosk-02")]
    outcomes = actions_propose_many(
        incident=incident,
        action_type=action_type_by_code("terminate_process"),
        targets=["kiosk-01", "kiosk-02"],
        by=analyst,
        observables=observables_of_kind(incident, "host"),
    )
    assert [list(o.action.observables.all()) for o in outcomes] == [[hosts[0]], [hosts[1]]]


def test_an_analyst_links_in_the_admin_once_and_never_across_incidents(
    analyst_client: Client, analyst: Any
) -> None:
    incident = make_incident(make_tenant())
    action = propose(incident, "isolate_endpoint", target="10.0.0.7")
    host = observe(incident, "host", "fs-01")
    foreign = observe(make_incident(make_tenant()), "host", "fs-01")
    url = reverse("admin:incidents_actionobservable_add")

    assert analyst_client.get(f"{url}?action={action.pk}").status_code == 200
    linked = analyst_client.post(url, {"action": action.pk, "observable": host.pk})
    again = analyst_client.post(url, {"action": action.pk, "observable": host.pk})
    across = analyst_client.post(url, {"action": action.pk, "observable": foreign.pk})

    assert linked.status_code == 302 and linked.url == change_url(incident)
    assert again.status_code == 302, again.context["adminform"].form.errors
    assert across.status_code == 200 and "of the action" in across.content.decode()
    assert list(action.observables.all()) == [host]
    assert ActionObservable.objects.get().linked_by == analyst
    assert incident.events.filter(kind=EventKind.OBSERVABLE_LINKED).count() == 1


def test_only_mdr_staff_link(client: Client) -> None:
    incident = make_incident(make_tenant())
    action = propose(incident, "isolate_endpoint")
    host = observe(incident, "host", "ws-0142")
    ActionObservable.objects.all().delete()
    admin_user = make_member(incident.tenant, Role.ADMIN)
    client.force_login(admin_user)
    refused = client.post(
        reverse("admin:incidents_actionobservable_add"), {"action": action.pk, "observable": host.pk}
    )
    assert refused.status_code == 302 and "/admin/" not in refused.url
    assert not ActionObservable.objects.exists()


def test_the_incident_page_shows_the_links_both_ways(analyst_client: Client) -> None:
    incident = make_incident(make_tenant())
    observe(incident, "host", "ws-0142")
    action = propose(incident, "isolate_endpoint", target="WS-0142")
    page = analyst_client.get(change_url(incident)).content.decode()
    assert f"#{action.pk} {action}" in page  # the observable's row names its action
    assert "Host ws-0142" in page  # the action's row names its observable
    assert f"?action={action.pk}" in page  # and links another


def test_the_api_nests_the_links_read_only(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    host = observe(incident, "host", "ws-0142")
    action = propose(incident, "isolate_endpoint", target="WS-0142")
    viewer = as_user(make_member(incident.tenant, Role.VIEWER))

    actions = viewer.get(f"/api/v1/incidents/{incident.pk}/actions/").json()
    observables = viewer.get(f"/api/v1/incidents/{incident.pk}/observables/").json()

    rows = actions["results"] if isinstance(actions, dict) else actions
    assert rows[0]["observables"] == [{"id": host.pk, "kind": "host", "value": "ws-0142"}]
    listed = observables["results"] if isinstance(observables, dict) else observables
    assert listed[0]["actions"] == [action.pk]
    one = viewer.get(f"/api/v1/actions/{action.pk}/").json()
    assert one["observables"][0]["id"] == host.pk


def test_the_service_refuses_an_observable_of_another_incident(analyst: Any) -> None:
    action = propose(make_incident(make_tenant()), "isolate_endpoint")
    foreign = observe(make_incident(make_tenant()), "host", "ws-0142")
    with pytest.raises(ValidationError):
        action_link_observable(action=action, observable=foreign, by=analyst)
