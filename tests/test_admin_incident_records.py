"""The incidents admin shows the timeline and authorizations read only, and only the forms a user may use."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from incidents.authorizations import authorization_record
from incidents.models import Authorization, Channel, ResponseAction, TimelineEvent
from incidents.selectors import authorization_text
from tenants.models import Tenant
from tests.admin_pages import page_data
from tests.factories import login_verified, make_incident, make_user
from tests.incident_admin import CHANGELIST, authorize_url, change_url, propose_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]


# Records that are never changed


@pytest.fixture
def authorized(awaiting: tuple, analyst: Any) -> Authorization:
    incident, isolate, *_ = awaiting
    return authorization_record(
        incident=incident,
        actions=[isolate],
        decision="granted",
        channel=Channel.ANALYST_RECORDED,
        text_shown=authorization_text(incident, [isolate]),
        contact=incident.tenant.contacts.first(),
        recorded_by=analyst,
        evidence="Email: go ahead.",
    )


@pytest.mark.parametrize("model", ["timelineevent", "authorization"])
def test_timeline_events_and_authorizations_cannot_be_changed_or_deleted_even_by_a_superuser(
    superuser_client: Client, authorized: Authorization, model: str
) -> None:
    row = authorized if model == "authorization" else authorized.incident.events.last()
    before = {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields}
    change = reverse(f"admin:incidents_{model}_change", args=[row.pk])
    delete = reverse(f"admin:incidents_{model}_delete", args=[row.pk])

    page = superuser_client.get(change)
    assert page.status_code == 200  # shown, read-only
    assert page.context["has_change_permission"] is False
    assert page.context["adminform"].form.fields == {}
    assert b'name="_save"' not in page.content
    assert (
        superuser_client.post(change, {"summary": "rewritten", "text_shown": "rewritten"}).status_code == 403
    )
    assert superuser_client.get(delete).status_code == 403
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    assert superuser_client.get(reverse(f"admin:incidents_{model}_add")).status_code == 403

    row.refresh_from_db()
    assert {f.attname: getattr(row, f.attname) for f in row._meta.concrete_fields} == before


def test_timeline_delete_admin_action_is_not_offered(
    superuser_client: Client, authorized: Authorization
) -> None:
    response = superuser_client.get(reverse("admin:incidents_timelineevent_changelist"))

    assert response.status_code == 200
    action_form = response.context["action_form"]
    assert action_form is None or "delete_selected" not in dict(action_form.fields["action"].choices)


def test_incident_change_page_shows_the_timeline_read_only(
    superuser_client: Client, authorized: Authorization
) -> None:
    incident = authorized.incident
    response = superuser_client.get(change_url(incident))

    assert response.status_code == 200
    inlines = {i.formset.prefix: i for i in response.context["inline_admin_formsets"]}
    timeline, actions = inlines["events"], inlines["actions"]
    for inline in (timeline, actions):
        assert not inline.has_change_permission
        assert not inline.has_add_permission
        assert not inline.has_delete_permission
    assert len(timeline.formset.forms) == incident.events.count()
    html = response.content.decode()
    for event in incident.events.all():
        assert escape(event.summary) in html
    assert 'name="events-0-summary"' not in html
    assert 'name="actions-0-target"' not in html


def test_posting_the_incident_page_with_tampered_timeline_data_changes_no_event(
    superuser_client: Client, authorized: Authorization
) -> None:
    incident = authorized.incident
    first = incident.events.order_by("id").first()
    data = page_data(superuser_client.get(change_url(incident)))
    assert data["events-0-id"] == str(first.pk)
    data["events-0-summary"] = "nothing happened"
    data["actions-0-status"] = "succeeded"

    response = superuser_client.post(change_url(incident), data)

    assert response.status_code == 302
    first.refresh_from_db()
    assert first.summary != "nothing happened"
    assert not TimelineEvent.objects.filter(summary="nothing happened").exists()
    assert not ResponseAction.objects.filter(status="succeeded").exists()


def test_change_page_links_to_the_forms_the_user_may_use(
    client: Client, collaborate: Tenant, analyst: Any
) -> None:
    incident = make_incident(collaborate)
    login_verified(client, analyst)
    html = client.get(change_url(incident)).content.decode()
    assert propose_url(incident) in html
    assert authorize_url(incident) in html


def test_change_page_hides_the_forms_from_a_read_only_user(client: Client, collaborate: Tenant) -> None:
    incident = make_incident(collaborate)
    reader = make_user("reader", staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_incident"))
    login_verified(client, reader)

    response = client.get(change_url(incident))

    assert response.status_code == 200
    html = response.content.decode()
    assert propose_url(incident) not in html
    assert authorize_url(incident) not in html
    action_form = client.get(CHANGELIST).context["action_form"]
    offered = dict(action_form.fields["action"].choices) if action_form else {}
    assert not {"propose_action", "record_authorization", "reapply_policy"} & set(offered)
