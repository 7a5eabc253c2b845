"""The case file's notes (internal or customer-visible) and typed observables (validated, once per incident),
in the admin and the API, with who may write and who may read them."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from incidents.models import EventKind, Note, Observable
from incidents.notes import note_add
from incidents.observables import observable_add, observable_normalize
from mdrportal.core.append_only import AppendOnlyError
from tenants.models import Role
from tests.factories import as_user, make_incident, make_member, make_tenant, portal
from tests.incident_admin import change_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

HASH = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"


@pytest.mark.parametrize(
    ("kind", "value", "normal"),
    [
        ("sha256", f"  {HASH} ", HASH.lower()),
        ("ip", "203.0.113.7", "203.0.113.7"),
        ("ip", "2001:DB8:0:0::1", "2001:db8::1"),
        ("domain", "Evil.Example.", "evil.example"),
        ("url", "https://evil.example/payload.exe", "https://evil.example/payload.exe"),
        ("host", "WS-0142", "ws-0142"),
        ("account", "CORP\\jdoe", "CORP\\jdoe"),
    ],
)
def test_each_kind_is_kept_in_its_normal_form(kind: str, value: str, normal: str) -> None:
    assert observable_normalize(kind, value) == normal


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("sha256", "abc123"),
        ("ip", "203.0.113.300"),
        ("domain", "localhost"),
        ("domain", "-bad-.example"),
        ("url", "javascript:alert(1)"),
        ("host", "two words"),
        ("account", "j doe"),
        ("colour", "red"),
    ],
)
def test_a_bad_value_is_refused(kind: str, value: str) -> None:
    with pytest.raises(ValidationError):
        observable_normalize(kind, value)


def test_an_observable_is_kept_once_per_incident(analyst: Any) -> None:
    incident, other = make_incident(make_tenant()), make_incident(make_tenant())

    first, new = observable_add(incident=incident, kind="sha256", value=HASH, by=analyst)
    again, again_new = observable_add(incident=incident, kind="sha256", value=HASH.lower(), by=analyst)
    elsewhere, _ = observable_add(incident=other, kind="sha256", value=HASH, by=analyst)

    assert (new, again_new, again.pk) == (True, False, first.pk)
    assert elsewhere.pk != first.pk
    assert incident.events.filter(kind=EventKind.OBSERVABLE_ADDED).count() == 1


def test_an_internal_note_is_no_timeline_event_and_a_customer_one_is(analyst: Any) -> None:
    incident = make_incident(make_tenant())

    note_add(
        incident=incident,
        body="Looks like the LockBit affiliate from last week",
        visibility="internal",
        by=analyst,
    )
    shared = note_add(incident=incident, body="We are isolating FS-01.", visibility="customer", by=analyst)

    (event,) = incident.events.filter(kind=EventKind.NOTE_ADDED)
    assert (event.summary, event.actor, event.data) == (
        "We are isolating FS-01.",
        analyst,
        {"note": shared.pk},
    )
    assert not incident.events.filter(summary__contains="LockBit").exists()
    with pytest.raises(AppendOnlyError):
        Note.objects.filter(pk=shared.pk).update(body="changed")


def test_the_customer_never_reads_an_internal_note(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    note_add(incident=incident, body="Internal: suspect the MSP's account", visibility="internal", by=analyst)
    note_add(incident=incident, body="Please reset jdoe's password.", visibility="customer", by=analyst)
    viewer = make_member(incident.tenant, Role.VIEWER)

    staff = as_user(analyst).get(f"/api/v1/incidents/{incident.pk}/notes/").json()
    customer = as_user(viewer).get(f"/api/v1/incidents/{incident.pk}/notes/").json()
    timeline = as_user(viewer).get(f"/api/v1/incidents/{incident.pk}/timeline/").content.decode()
    page = portal(viewer).get(f"/incidents/{incident.pk}/").content.decode()

    assert [n["visibility"] for n in staff] == ["internal", "customer"]
    assert [n["body"] for n in customer] == ["Please reset jdoe's password."]
    assert "suspect the MSP" not in timeline and "suspect the MSP" not in page
    assert "Please reset jdoe" in timeline


def test_an_analyst_writes_notes_and_adds_observables_in_the_api(analyst: Any) -> None:
    incident = make_incident(make_tenant())
    client = as_user(analyst)

    note = client.post(
        f"/api/v1/incidents/{incident.pk}/notes/", {"visibility": "customer", "body": "On it."}, format="json"
    )
    added = client.post(
        f"/api/v1/incidents/{incident.pk}/observables/", {"kind": "host", "value": "KIOSK-01"}, format="json"
    )
    again = client.post(
        f"/api/v1/incidents/{incident.pk}/observables/", {"kind": "host", "value": "kiosk-01"}, format="json"
    )
    bad = client.post(
        f"/api/v1/incidents/{incident.pk}/observables/", {"kind": "ip", "value": "999.1.1.1"}, format="json"
    )

    assert note.status_code == 201 and note.json()["author"] == analyst.username
    assert (added.status_code, added.json()["value"]) == (201, "kiosk-01")
    assert (again.status_code, again.json()["id"]) == (200, added.json()["id"])
    assert bad.status_code == 400 and set(bad.json()) == {"value"}
    assert Observable.objects.filter(incident=incident).count() == 1


@pytest.mark.parametrize("role", list(Role))
def test_no_customer_role_writes_notes_or_observables(role: Role) -> None:
    incident = make_incident(make_tenant())
    client = as_user(make_member(incident.tenant, role))

    note = client.post(f"/api/v1/incidents/{incident.pk}/notes/", {"visibility": "customer", "body": "x"})
    observable = client.post(f"/api/v1/incidents/{incident.pk}/observables/", {"kind": "host", "value": "a"})

    assert (note.status_code, observable.status_code) == (403, 403)
    assert client.get(f"/api/v1/incidents/{incident.pk}/observables/").status_code == 200


def test_an_outsider_finds_neither() -> None:
    incident = make_incident(make_tenant())
    client = as_user(make_member(make_tenant(), Role.ADMIN))

    assert client.get(f"/api/v1/incidents/{incident.pk}/notes/").status_code == 404
    assert client.get(f"/api/v1/incidents/{incident.pk}/observables/").status_code == 404


def test_the_admin_adds_a_note_and_an_observable_from_the_incident_page(
    analyst_client: Client, analyst: Any
) -> None:
    incident = make_incident(make_tenant())
    page = analyst_client.get(change_url(incident)).content.decode()
    assert f"/admin/incidents/note/add/?incident={incident.pk}" in page

    note = analyst_client.post(
        reverse("admin:incidents_note_add"),
        {"incident": incident.pk, "visibility": "internal", "body": "Hunch"},
    )
    observable = analyst_client.post(
        reverse("admin:incidents_observable_add"),
        {"incident": incident.pk, "kind": "ip", "value": "203.0.113.9"},
    )
    bad = analyst_client.post(
        reverse("admin:incidents_observable_add"), {"incident": incident.pk, "kind": "ip", "value": "nope"}
    )

    assert (note.status_code, note["Location"]) == (302, change_url(incident))
    assert observable.status_code == 302
    assert bad.status_code == 200 and "is not an IP address" in bad.content.decode()
    assert Note.objects.get(incident=incident).author == analyst
    assert list(Observable.objects.filter(incident=incident).values_list("value", flat=True)) == [
        "203.0.113.9"
    ]
    shown = analyst_client.get(change_url(incident)).content.decode()
    assert "Hunch" in shown and "203.0.113.9" in shown
