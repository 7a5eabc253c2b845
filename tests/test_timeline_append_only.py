"""Timeline events, authorizations and settings audit rows are written once and never changed."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from incidents.authorizations import authorization_record
from incidents.models import Authorization, Channel, EventKind, TimelineEvent
from mdrportal.core.append_only import AppendOnlyError
from tenants.models import SettingsChange
from tests.factories import first_contact, make_incident, make_tenant, propose

pytestmark = pytest.mark.django_db


@pytest.fixture
def event() -> TimelineEvent:
    return make_incident(make_tenant()).events.get(kind=EventKind.INCIDENT_OPENED)


def test_saving_an_existing_event_is_refused(event: TimelineEvent) -> None:
    event.summary = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    assert TimelineEvent.objects.get(pk=event.pk).summary != "rewritten"


def test_force_update_is_refused(event: TimelineEvent) -> None:
    with pytest.raises(AppendOnlyError):
        event.save(force_update=True)


def test_deleting_an_event_is_refused(event: TimelineEvent) -> None:
    with pytest.raises(AppendOnlyError):
        event.delete()
    assert TimelineEvent.objects.filter(pk=event.pk).exists()


def test_queryset_update_and_delete_are_refused(event: TimelineEvent) -> None:
    with pytest.raises(AppendOnlyError):
        TimelineEvent.objects.filter(pk=event.pk).update(summary="x")
    with pytest.raises(AppendOnlyError):
        TimelineEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        TimelineEvent.objects.bulk_update([event], ["summary"])
    assert TimelineEvent.objects.filter(pk=event.pk).exists()


def test_settings_audit_rows_are_append_only() -> None:
    tenant = make_tenant()
    change = SettingsChange.objects.filter(tenant=tenant).first()
    with pytest.raises(AppendOnlyError):
        change.delete()
    with pytest.raises(AppendOnlyError):
        SettingsChange.objects.filter(tenant=tenant).update(after="x")


def test_an_incident_with_events_cannot_be_deleted(event: TimelineEvent) -> None:
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        event.incident.delete()


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE incidents_timelineevent SET summary = 'rewritten' WHERE id = %s",
        "DELETE FROM incidents_timelineevent WHERE id = %s",
    ],
)
def test_postgres_trigger_refuses_raw_update_and_delete(event: TimelineEvent, sql: str) -> None:
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [event.pk])
    assert TimelineEvent.objects.get(pk=event.pk).summary == event.summary


@pytest.mark.postgres
@pytest.mark.parametrize("model", [Authorization, SettingsChange])
@pytest.mark.parametrize("statement", ["UPDATE {table} SET id = id", "DELETE FROM {table}"])
def test_postgres_trigger_guards_authorizations_and_audit(model: type, statement: str, analyst: Any) -> None:
    tenant = make_tenant()
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    authorization_record(
        incident=incident,
        actions=[action],
        decision="granted",
        channel=Channel.ANALYST_RECORDED,
        text_shown="isolate",
        contact=first_contact(tenant),
        recorded_by=analyst,
        evidence="email",
    )
    before = model.objects.count()
    assert before > 0
    sql = statement.format(table=model._meta.db_table)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert model.objects.count() == before
