"""Every API URL, walked from the URL conf with an integration key and every HTTP method: a key gets 403
except where it opens incidents, proposes actions or reads the catalog and what it opened. A new URL is
walked without being listed here, and refuses keys unless its view lets them in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import resolve
from rest_framework.test import APIClient

from incidents.models import Incident, ResponseAction
from tests.factories import as_key, first_contact, make_integration_key, make_tenant
from tests.test_api_auth import ENDPOINTS
from tests.url_routes import all_routes

pytestmark = pytest.mark.django_db

METHODS = ("get", "head", "options", "post", "put", "patch", "delete")
# (route, method): the status a key gets where it may act.
KEY_MAY = {
    ("api/v1/action-types/", "get"): 200,
    ("api/v1/action-types/", "head"): 200,
    ("api/v1/incidents/", "get"): 200,
    ("api/v1/incidents/", "head"): 200,
    ("api/v1/incidents/", "post"): 201,
    ("api/v1/incidents/<int:pk>/", "get"): 200,
    ("api/v1/incidents/<int:pk>/", "head"): 200,
    ("api/v1/incidents/<int:pk>/", "post"): 405,  # the viewset creates on its collection only
    ("api/v1/incidents/<int:incident_id>/actions/", "get"): 200,
    ("api/v1/incidents/<int:incident_id>/actions/", "head"): 200,
    ("api/v1/incidents/<int:incident_id>/actions/", "post"): 201,
    ("api/v1/actions/<int:pk>/", "get"): 200,
    ("api/v1/actions/<int:pk>/", "head"): 200,
}
# Open to anyone (getting a token with a password, the schema and its docs): a key there is nobody, and gets
# exactly what a caller without credentials gets.
PUBLIC = {"api/v1/auth/token/", "api/schema/", "api/docs/"}
_PARAM = re.compile(r"<(?:\w+:)?(\w+)>")


def api_routes() -> Iterator[str]:
    return (route for route in all_routes() if route.startswith("api/"))


@dataclass
class World:
    """A key's tenant, an incident the key opened with an action it proposed, and the tenant's contact."""

    ids: dict[str, int]
    client: APIClient

    def url(self, route: str) -> str:
        # Each id is of the object the segment before it names; an unknown one is any number: the key's
        # refusal comes before any lookup.
        def fill(match: re.Match[str]) -> str:
            segment = route[: match.start()].rstrip("/").rsplit("/", 1)[-1]
            return str(self.ids.get(segment, 1))

        return "/" + _PARAM.sub(fill, route)


@pytest.fixture
def world() -> World:
    tenant = make_tenant()
    _, presented = make_integration_key(tenant)
    client = as_key(presented)
    opened = client.post("/api/v1/incidents/", {"tenant": tenant.pk, "title": "Walk"}, format="json")
    incident = Incident.objects.get(pk=opened.json()["id"])
    proposed = client.post(
        f"/api/v1/incidents/{incident.pk}/actions/",
        {"action_type": "isolate_endpoint", "target": "WS-1"},
        format="json",
    )
    action = ResponseAction.objects.get(pk=proposed.json()["id"])
    ids = {
        "tenants": tenant.pk,
        "incidents": incident.pk,
        "actions": action.pk,
        "tasks": action.pk,
        "contacts": first_contact(tenant).pk,
    }
    # A server error is a status like any other here: it must match the expected one.
    client.raise_request_exception = False
    return World(ids=ids, client=client)


def body(route: str, world: World) -> dict[str, Any]:
    if route == "api/v1/incidents/":
        return {"tenant": world.ids["tenants"], "title": "From the pipeline"}
    if route.endswith("/actions/"):
        return {"action_type": "block_ip", "target": "203.0.113.9"}
    return {}


def test_the_walk_finds_every_api_url() -> None:
    routes = set(api_routes())
    documented = {resolve(url).route for _, url in ENDPOINTS}
    assert documented | {route for route, _ in KEY_MAY} | PUBLIC == routes


def test_a_key_is_refused_everywhere_but_where_it_opens_proposes_and_reads(world: World) -> None:
    got, expected = {}, {}
    for route in api_routes():
        url = world.url(route)
        for method in METHODS:
            response = getattr(world.client, method)(url, body(route, world), format="json")
            got[(route, method)] = response.status_code
            if route in PUBLIC:
                anonymous = getattr(APIClient(raise_request_exception=False), method)(
                    url, body(route, world), format="json"
                )
                expected[(route, method)] = anonymous.status_code
            else:
                expected[(route, method)] = KEY_MAY.get((route, method), 403)

    assert got == expected
