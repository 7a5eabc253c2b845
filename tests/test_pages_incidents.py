"""Incident list and timeline pages, approvals and acknowledgment in the portal; pinned query counts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from escalation.models import Acknowledgment
from incidents.models import (
    ActionStatus,
    Authorization,
    Channel,
    EventKind,
    Incident,
    IncidentStatus,
    Severity,
    TimelineEvent,
)
from incidents.selectors import authorization_text
from incidents.services import incident_set_status
from incidents.timeline import COLUMNS, format_duration
from mdrportal.web.incident_views import EVENTS_PER_PAGE, PAGE_SIZE, STATEMENT_REQUIRED
from tenants.models import ResponseMode, Role, Tenant
from tests.factories import login_verified, make_incident, make_member, make_tenant, propose

pytestmark = pytest.mark.django_db
LIST = reverse("incidents:list")
APPROVALS = reverse("incidents:approvals")

# Pinned query counts: they must not grow with the number of rows or events.
# session, user, the user's tenants (the first two: one is the current tenant), the role (membership),
# the page of incidents with their awaiting counts (no count of every incident)
LIST_QUERIES = 5
# session, user, the incident among the user's tenants, the role, whether the user could switch tenant,
# the events with their actors, the actions with their types
TIMELINE_QUERIES = 7


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def client_for(tenant: Tenant, role: str = Role.VIEWER) -> tuple[Client, Any]:
    user = make_member(tenant, role)
    client = Client()
    login_verified(client, user)
    return client, user


def event(incident: Incident, kind: str, minutes: float, **extra: Any) -> TimelineEvent:
    return TimelineEvent.objects.create(
        incident=incident,
        kind=kind,
        at=incident.opened_at + timedelta(minutes=minutes),
        actor_label=extra.pop("label", "MDR Ops call tree"),
        channel=extra.pop("channel", Channel.SYSTEM),
        summary=extra.pop("summary", f"{kind} after {minutes} min"),
        data=extra.pop("data", {}),
    )


# Incident list ---------------------------------------------------------------------------------------


def test_the_list_shows_only_the_tenants_incidents_newest_first() -> None:
    tenant, other = make_tenant(), make_tenant()
    older = make_incident(tenant)
    newer = make_incident(tenant)
    make_incident(other)
    client, _ = client_for(tenant)

    response = client.get(LIST)

    assert [i.pk for i in response.context["page"]] == [newer.pk, older.pk]


def test_the_list_filters_by_status_severity_and_dates() -> None:
    tenant = make_tenant()
    critical = make_incident(tenant, severity=Severity.CRITICAL)
    low = make_incident(tenant, severity=Severity.LOW)
    incident_set_status(incident=low, status=IncidentStatus.CONTAINED, by=None)
    old = make_incident(tenant, severity=Severity.HIGH)
    Incident.objects.filter(pk=old.pk).update(opened_at=timezone.now() - timedelta(days=40))
    client, _ = client_for(tenant)

    def shown(**params: str) -> list[int]:
        return [i.pk for i in client.get(LIST, params).context["page"]]

    assert shown(status="contained") == [low.pk]
    assert shown(severity="critical") == [critical.pk]
    since = (timezone.now() - timedelta(days=7)).date().isoformat()
    assert set(shown(opened_from=since)) == {critical.pk, low.pk}
    assert shown(opened_to=(timezone.now() - timedelta(days=30)).date().isoformat()) == [old.pk]
    assert shown(status="open", severity="high") == [old.pk]


def test_the_home_page_counts_each_incident_and_each_action_once() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    for n in range(5):
        propose(incident, "isolate_endpoint", target=f"WS-{n}")
    other = make_incident(tenant)
    incident_set_status(incident=other, status=IncidentStatus.RESOLVED, by=None)
    make_incident(make_tenant())  # another tenant's
    client, _ = client_for(tenant)

    response = client.get(reverse("home"))

    assert response.context["counts"] == {"open": 1, "awaiting": 5}


def test_the_list_is_paginated_and_keeps_its_filters_on_the_next_page() -> None:
    tenant = make_tenant()
    opened = [make_incident(tenant) for _ in range(PAGE_SIZE + 3)]
    make_incident(tenant, severity=Severity.LOW)  # filtered out
    client, _ = client_for(tenant)

    first = client.get(LIST, {"severity": "critical"})
    older = first.context["page"].next
    second = client.get(LIST + older)

    assert len(first.context["page"]) == PAGE_SIZE and first.context["page"].previous is None
    assert "severity=critical" in older and "cursor=" in older
    html = first.content.decode()
    assert html.count('class="pager"') == 1 and f'<a href="{older.replace("&", "&amp;")}">Older' in html
    shown = [i.pk for i in first.context["page"]] + [i.pk for i in second.context["page"]]
    assert shown == [i.pk for i in reversed(opened)]
    assert second.context["page"].next is None
    newer = client.get(LIST + second.context["page"].previous)
    assert [i.pk for i in newer.context["page"]] == shown[:PAGE_SIZE]


def test_a_made_up_cursor_is_a_404() -> None:
    client, _ = client_for(make_tenant())
    assert client.get(LIST, {"cursor": "not-a-cursor"}).status_code == 404


def test_the_list_counts_the_actions_awaiting_authorization() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    propose(incident, "isolate_endpoint")
    propose(incident, "block_ip", target="203.0.113.9")
    client, _ = client_for(tenant)

    response = client.get(LIST)

    assert response.context["page"][0].awaiting == 2


@pytest.mark.parametrize("rows", [3, 15])
def test_the_list_query_count_does_not_grow_with_the_rows(rows: int, django_assert_num_queries: Any) -> None:
    tenant = make_tenant()
    for _ in range(rows):
        propose(make_incident(tenant), "isolate_endpoint")
    client, _ = client_for(tenant)
    client.get(LIST)  # the first request of a session may store the chosen tenant

    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(LIST)

    assert len(response.context["page"]) == rows


# Timeline --------------------------------------------------------------------------------------------


def test_the_timeline_lists_every_event_with_actor_and_channel() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    propose(incident, "isolate_endpoint")
    event(
        incident,
        EventKind.CALL_ATTEMPT,
        1,
        label="Contact 1",
        channel=Channel.PHONE,
        summary="Call 1: no answer",
    )
    client, _ = client_for(tenant)

    response = client.get(reverse("incidents:detail", args=[incident.pk]))

    events = response.context["events"]
    assert [e.kind for e in events] == [
        EventKind.INCIDENT_OPENED,
        EventKind.ACTION_PROPOSED,
        EventKind.CALL_ATTEMPT,
    ]
    html = response.content.decode()
    assert "Call 1: no answer" in html and "Contact 1" in html and "Phone" in html
    assert html.count("<circle") == 3  # one dot per event on the drawn timeline
    assert 'style="' not in html  # the CSP forbids inline styles: the chart uses SVG attributes


def test_the_timeline_measures_detection_to_notification_acknowledgment_authorization_and_containment() -> (
    None
):
    tenant = make_tenant()
    incident = make_incident(tenant)
    isolate = propose(incident, "isolate_endpoint")
    release = propose(incident, "release_endpoint")  # in the containment category, but it undoes containment
    event(incident, EventKind.NOTIFICATION_STARTED, 0.5)
    event(incident, EventKind.NOTIFICATION_SENT, 2, summary="Email to Contact 1")
    event(incident, EventKind.CALL_ATTEMPT, 3)
    event(incident, EventKind.ACKNOWLEDGED, 5, summary="Contact 1 acknowledged (phone)")
    event(incident, EventKind.AUTHORIZATION_GIVEN, 9.5, summary="Contact 1 authorized in writing")
    event(incident, EventKind.ACTION_SUCCEEDED, 11, data={"action": release.pk})
    event(incident, EventKind.ACTION_SUCCEEDED, 14, data={"action": isolate.pk}, summary="Isolated WS-0142")
    client, _ = client_for(tenant)

    response = client.get(reverse("incidents:detail", args=[incident.pk]))

    durations = {m.key: m.duration for m in response.context["milestones"]}
    assert durations == {
        "detection": "0 s",
        "notified": "2 min 00 s",
        "acknowledged": "5 min 00 s",
        "decided": "9 min 30 s",
        "contained": "14 min 00 s",
    }
    html = response.content.decode()
    assert "9 min 30 s" in html and "Isolated WS-0142" in html
    assert "Containment +14 min 00 s" in html  # the milestone line on the chart


def test_the_timeline_says_what_is_not_reached_yet_and_what_authorize_mode_does_not_need() -> None:
    tenant = make_tenant(mode=ResponseMode.AUTHORIZE)
    incident = make_incident(tenant)
    client, _ = client_for(tenant)

    response = client.get(reverse("incidents:detail", args=[incident.pk]))

    marks = {m.key: m for m in response.context["milestones"]}
    assert marks["notified"].event is None
    assert "Not needed" in marks["decided"].note
    assert "not yet" in response.content.decode()


def test_the_fallback_counts_as_the_decision() -> None:
    tenant = make_tenant(fallback=True)
    incident = make_incident(tenant)
    event(incident, EventKind.CALLS_EXHAUSTED, 20)
    event(incident, EventKind.FALLBACK_TAKEN, 20.25)
    client, _ = client_for(tenant)

    response = client.get(reverse("incidents:detail", args=[incident.pk]))

    decided = next(m for m in response.context["milestones"] if m.key == "decided")
    assert (decided.duration, decided.note) == ("20 min 15 s", "No-acknowledgment fallback taken")


def test_a_long_timeline_comes_in_pages_and_the_chart_summarizes_it() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)  # one event
    start = incident.opened_at
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            incident=incident,
            kind=EventKind.CALL_ATTEMPT,
            at=start + timedelta(seconds=n + 1),
            channel=Channel.PHONE,
            summary=f"Call {n + 1}: no answer",
        )
        for n in range(1200)
    )
    event(incident, EventKind.FLAGGED, 30, summary="Could not notify")  # after the calls
    client, _ = client_for(tenant)
    url = reverse("incidents:detail", args=[incident.pk])

    first = client.get(url)
    last = client.get(url, {"page": 13})

    assert [e.summary for e in first.context["events"]][1:3] == ["Call 1: no answer", "Call 2: no answer"]
    assert len(first.context["events"]) == EVENTS_PER_PAGE
    assert [e.kind for e in last.context["events"]] == [EventKind.CALL_ATTEMPT, EventKind.FLAGGED]  # 13 pages
    assert "Events 1–100 of 1202" in first.content.decode()
    dots = first.context["chart"].dots
    assert len(dots) <= COLUMNS * 2 and first.content.decode().count("<circle") == len(dots)
    assert sum(d.count for d in dots) == 1202  # every event is in one dot
    calls = [d for d in dots if "Call attempt" in d.title]
    assert len(calls) <= COLUMNS and sum(d.count for d in calls) == 1200
    many = max(calls, key=lambda d: d.count)
    assert many.count >= 10 and f" {many.count} events: {many.count} Call attempt" in many.title
    assert any(d.count == 1 and d.title.endswith("Could not notify") for d in dots)
    assert "1202 events" in first.context["chart"].summary


@pytest.mark.parametrize("events", [3, 15])
def test_the_timeline_query_count_does_not_grow_with_the_events(
    events: int, django_assert_num_queries: Any
) -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)  # one event
    propose(incident, "isolate_endpoint")  # two
    for n in range(events - 2):
        event(incident, EventKind.CALL_ATTEMPT, n + 1)
    client, _ = client_for(tenant)
    url = reverse("incidents:detail", args=[incident.pk])
    client.get(url)  # the first request of a session stores the tenant it acts for

    with django_assert_num_queries(TIMELINE_QUERIES):
        response = client.get(url)

    assert len(response.context["events"]) == events


def test_durations_read_as_people_say_them() -> None:
    assert format_duration(timedelta(seconds=42)) == "42 s"
    assert format_duration(timedelta(minutes=3, seconds=7)) == "3 min 07 s"
    assert format_duration(timedelta(hours=2, minutes=5)) == "2 h 05 min"
    assert format_duration(timedelta(days=1, hours=3)) == "1 d 3 h"


# Approvals and acknowledgment ------------------------------------------------------------------------


def test_an_approver_authorizes_the_ticked_actions_with_the_exact_text_shown() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    isolate = propose(incident, "isolate_endpoint")
    block = propose(incident, "block_ip", target="203.0.113.9")
    client, approver = client_for(tenant, Role.APPROVER)

    page = client.get(APPROVALS)
    html = page.content.decode()
    shown = authorization_text(incident, [isolate, block]).split("\n")
    assert all(line in html.replace("&ldquo;", "\u201c").replace("&rdquo;", "\u201d") for line in shown[1:])
    assert "Cut the endpoint off the network" in html  # what the action does

    response = client.post(
        reverse("incidents:decide", args=[incident.pk]),
        {"actions": [isolate.pk], "decision": "granted", "statement": "Go ahead and isolate it."},
        REMOTE_ADDR="198.51.100.7",
        HTTP_USER_AGENT="pytest",
    )

    assert response.status_code == 302
    authorization = Authorization.objects.get()
    assert authorization.channel == Channel.PORTAL
    assert (authorization.user, authorization.decision) == (approver, Authorization.Decision.GRANTED)
    assert authorization.text_shown == authorization_text(incident, [isolate])
    assert authorization.statement == "Go ahead and isolate it."
    assert (authorization.ip_address, authorization.user_agent) == ("198.51.100.7", "pytest")
    assert [s["action"] for s in authorization.scope] == [isolate.pk]
    isolate.refresh_from_db()
    block.refresh_from_db()
    assert isolate.status == ActionStatus.QUEUED
    assert block.status == ActionStatus.AWAITING_AUTHORIZATION
    assert [p.incident.pk for p in client.get(APPROVALS).context["pending"]] == [incident.pk]


def test_an_approver_declines_in_writing() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    isolate = propose(incident, "isolate_endpoint")
    client, _ = client_for(tenant, Role.ADMIN)

    client.post(
        reverse("incidents:decide", args=[incident.pk]),
        {"actions": [isolate.pk], "decision": "declined", "statement": "Not the CEO's laptop."},
    )

    isolate.refresh_from_db()
    assert isolate.status == ActionStatus.DECLINED
    assert Authorization.objects.get().decision == Authorization.Decision.DECLINED
    assert client.get(APPROVALS).context["pending"] == []


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"decision": "granted", "statement": ""}, STATEMENT_REQUIRED),
        ({"decision": "granted", "statement": "ok", "actions": []}, "Tick at least one action."),
        ({"decision": "maybe", "statement": "ok"}, "Choose to authorize or to decline."),
    ],
)
def test_a_decision_needs_a_statement_a_choice_and_actions(data: dict[str, Any], error: str) -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    isolate = propose(incident, "isolate_endpoint")
    client, _ = client_for(tenant, Role.APPROVER)
    data.setdefault("actions", [isolate.pk])

    response = client.post(reverse("incidents:decide", args=[incident.pk]), data)

    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Authorization.objects.exists()


def test_an_action_decided_meanwhile_is_not_decided_twice() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    isolate = propose(incident, "isolate_endpoint")
    client, _ = client_for(tenant, Role.APPROVER)
    data = {"actions": [isolate.pk], "decision": "granted", "statement": "yes"}
    client.post(reverse("incidents:decide", args=[incident.pk]), data)

    response = client.post(reverse("incidents:decide", args=[incident.pk]), data)

    assert response.status_code == 400
    assert "no longer awaiting authorization" in response.content.decode()
    assert Authorization.objects.count() == 1


def test_an_action_of_another_incident_cannot_be_slipped_into_the_decision() -> None:
    tenant = make_tenant()
    incident, second = make_incident(tenant), make_incident(tenant)
    propose(incident, "isolate_endpoint")
    foreign = propose(second, "isolate_endpoint")
    client, _ = client_for(tenant, Role.APPROVER)

    response = client.post(
        reverse("incidents:decide", args=[incident.pk]),
        {"actions": [foreign.pk], "decision": "granted", "statement": "yes"},
    )

    assert response.status_code == 400
    assert not Authorization.objects.exists()


def test_an_approver_acknowledges_in_the_portal_and_it_authorizes_nothing() -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    isolate = propose(incident, "isolate_endpoint")
    client, approver = client_for(tenant, Role.APPROVER)
    assert [i.pk for i in client.get(APPROVALS).context["unacknowledged"]] == [incident.pk]

    response = client.post(reverse("incidents:acknowledge", args=[incident.pk]), follow=True)

    ack = Acknowledgment.objects.get()
    assert (ack.incident, ack.user, ack.channel, ack.contact) == (incident, approver, Channel.PORTAL, None)
    assert "This is not an authorization" in response.content.decode()
    assert response.context["acknowledged"] is not None
    assert response.context["can_acknowledge"] is False
    isolate.refresh_from_db()
    assert isolate.status == ActionStatus.AWAITING_AUTHORIZATION
    assert list(client.get(APPROVALS).context["unacknowledged"]) == []
