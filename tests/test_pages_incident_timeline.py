"""The customer's incident timeline page: every event with its actor, the measured durations, pages and the
chart, pinned queries."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db.models import Max, Min
from django.urls import reverse

from incidents.milestones import format_duration
from incidents.models import Channel, EventKind, Incident, TimelineEvent
from incidents.timeline import COLUMNS, chart_columns, chart_span
from incidents.timeline_reads import _counted_here, _counted_in_sql
from mdrportal.web.incident_views import EVENTS_PER_PAGE
from tenants.models import ResponseMode
from tests.factories import client_for, make_incident, make_tenant, propose

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


# session, user, the incident among the user's tenants, the role, whether the user could switch tenant,
# the page of events with their actors (a count and a slice), the actions with their types, the first event
# of each milestone, the chart's span, its events counted by kind and column, the words of its lone dots, and
# the thread's messages with their authors
TIMELINE_QUERIES = 13


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
        "resolved": "",  # still open
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
    # The milestones come from the whole timeline, whichever page is shown.
    marks = {m.key: m for m in last.context["milestones"]}
    assert marks["notified"].event.summary == "Call 1: no answer" and marks["acknowledged"].event is None


@pytest.mark.postgres
def test_the_database_counts_the_chart_s_columns_as_python_does() -> None:
    """PostgreSQL counts the events by column and kind; the count made here (other databases) must agree."""
    incident = make_incident(make_tenant())
    kinds = [
        EventKind.CALL_ATTEMPT,
        EventKind.NOTIFICATION_SENT,
        EventKind.FLAGGED,
        EventKind.ACTION_PROPOSED,
    ]
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            incident=incident,
            kind=kinds[n % 7 % 4],
            at=incident.opened_at + timedelta(seconds=n * 1.37 + (n % 5) * 0.2),
            summary=f"event {n}",
        )
        for n in range(700)
    )
    events = TimelineEvent.objects.filter(incident=incident)
    bounds = events.aggregate(first=Min("at"), last=Max("at"))
    start, end = chart_span(incident, bounds["first"], bounds["last"])

    in_sql = chart_columns(start, end, _counted_in_sql(events, start, end))
    here = chart_columns(start, end, _counted_here(events, start, end))

    assert in_sql.groups == here.groups
    assert in_sql.count == 701 and len(in_sql.groups) > COLUMNS  # several lanes, every column


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


def test_the_printed_record_holds_every_event_or_says_plainly_how_to_get_them() -> None:
    """128 events: the page shows 100 and its printout says so, with the address of the whole record; that
    address holds all 128 (the pager that said "Events 1-100 of 128" is hidden in print)."""
    tenant = make_tenant()
    incident = make_incident(tenant)  # one event
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            incident=incident,
            kind=EventKind.CALL_ATTEMPT,
            at=incident.opened_at + timedelta(seconds=n + 1),
            channel=Channel.PHONE,
            summary=f"Call {n + 1}: no answer",
        )
        for n in range(127)
    )
    client, _ = client_for(tenant)
    url = reverse("incidents:detail", args=[incident.pk])

    paged = client.get(url).content.decode()
    every = client.get(url, {"events": "all"})

    note = re.search(r'<p class="print-only" id="events-print-note">(.*?)</p>', paged, re.S)
    assert note is not None, "nothing printed says the record is cut"
    assert "holds events 1–100 of 128" in note.group(1)
    assert f"http://testserver{url}?events=all" in note.group(1)
    assert len(every.context["events"]) == 128
    assert every.context["events"][127].summary == "Call 127: no answer"
    assert 'id="events-print-note"' not in every.content.decode()


def test_in_authorize_mode_how_fast_says_a_decision_was_not_needed_and_not_that_it_is_awaited() -> None:
    tenant = make_tenant(mode=ResponseMode.AUTHORIZE)
    incident = make_incident(tenant)
    client, _ = client_for(tenant)

    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()

    row = page.split("<td>Authorization or fallback</td>", 1)[1].split("</tr>", 1)[0]
    assert "Not needed" in row and "not needed" in row
    assert "not yet" not in row


def test_a_long_target_wraps_inside_the_actions_table() -> None:
    """A SHA-256 has no space to break at: its cell may break anywhere, so the "Why" column stays on the page."""
    tenant = make_tenant()
    incident = make_incident(tenant)
    sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    propose(incident, "block_sha256", target=sha256)
    client, _ = client_for(tenant)

    page = client.get(reverse("incidents:detail", args=[incident.pk])).content.decode()

    assert f'<td class="small target">{sha256}</td>' in page
    css = (settings.BASE_DIR / "mdrportal/static/mdrportal/portal.css").read_text()
    rule = re.search(r"td\.target \{([^}]*)\}", css)
    assert rule is not None and "overflow-wrap: anywhere" in rule.group(1)
