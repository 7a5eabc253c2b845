"""The incidents admin as MDR analysts use it: opening, proposing, recording authorizations, reading."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from incidents.authorizations import authorization_record
from incidents.models import (
    ActionStatus,
    Authorization,
    Basis,
    Channel,
    EventKind,
    Incident,
    ResponseAction,
    TimelineEvent,
)
from incidents.policy import PolicySnapshot
from incidents.selectors import action_type_by_code, authorization_text
from incidents.services import incident_set_status
from tenants.models import Contact, ResponseMode, Tenant
from tenants.selectors import tenant_policy
from tenants.services import contact_create, tenant_update_settings
from tests.factories import login_verified, make_analyst, make_incident, make_tenant, make_user, propose

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:incidents_incident_changelist")
ADD_URL = reverse("admin:incidents_incident_add")

# Pinned query counts: they must not grow with the number of rows shown.
# session, user, user and group permissions, tenant filter, two counts, the page, date hierarchy (2)
CHANGELIST_QUERIES = 10
# session, user, incident, permissions (2), actions with types and authorizations, events, tenant, opener
CHANGE_PAGE_QUERIES = 9


def change_url(incident: Incident) -> str:
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def propose_url(incident: Incident) -> str:
    return reverse("admin:incidents_incident_propose", args=[incident.pk])


def authorize_url(incident: Incident) -> str:
    return reverse("admin:incidents_incident_authorize", args=[incident.pk])


def page_data(response: Any) -> dict[str, Any]:
    """The POST data of an admin add/change page as rendered: main form, inline forms, management forms."""
    assert response.status_code == 200
    forms_ = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms_ += [inline.formset.management_form, *inline.formset.forms]
    data: dict[str, Any] = {}
    for bound in (b for form in forms_ for b in form):
        value = bound.value()
        if isinstance(bound.field.widget, forms.CheckboxInput):
            if value:
                data[bound.html_name] = "on"
        else:
            data[bound.html_name] = "" if value is None else str(value)
    return data


def kinds(incident: Incident) -> list[str]:
    return list(incident.events.order_by("at", "id").values_list("kind", flat=True))


def shown(response: Any) -> list[int]:
    """The ids of the incidents a changelist page lists."""
    return sorted(i.pk for i in response.context["cl"].result_list)


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def analyst() -> Any:
    return make_analyst()


@pytest.fixture
def analyst_client(client: Client, analyst: Any) -> Client:
    login_verified(client, analyst)
    return client


@pytest.fixture
def collaborate() -> Tenant:
    return make_tenant(mode=ResponseMode.COLLABORATE)


# Opening an incident


def test_add_form_opens_the_incident_through_the_service(analyst_client: Client, analyst: Any) -> None:
    tenant = make_tenant(performers={"disable_user": "customer"})
    page = analyst_client.get(ADD_URL)
    assert set(page.context["adminform"].form.fields) == {
        "tenant",
        "title",
        "severity",
        "summary",
        "observed_activity",
        "recommendations",
    }

    data = page_data(page)
    data.update(tenant=tenant.pk, title="Ransomware on FS-01", severity="critical", summary="Mass renames.")

    response = analyst_client.post(ADD_URL, data)

    assert response.status_code == 302
    incident = Incident.objects.get(title="Ransomware on FS-01")
    assert incident.policy == tenant_policy(tenant)
    assert incident.policy["performers"] == {"disable_user": "customer"}
    assert incident.opened_by == analyst
    (event,) = incident.events.all()
    assert (event.kind, event.actor, event.channel) == (EventKind.INCIDENT_OPENED, analyst, Channel.ADMIN)


def test_changing_the_status_on_the_change_page_writes_a_timeline_event(
    analyst_client: Client, analyst: Any, collaborate: Tenant
) -> None:
    incident = make_incident(collaborate)
    page = analyst_client.get(change_url(incident))
    assert set(page.context["adminform"].form.fields) == {"status", "status_reason"}
    data = page_data(page)
    data["status"] = "contained"
    data["status_reason"] = "isolated, cleaning up"

    response = analyst_client.post(change_url(incident), data)

    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "contained"
    event = incident.events.get(kind=EventKind.INCIDENT_STATUS)
    assert (event.data, event.actor) == (
        {"before": "open", "after": "contained", "reason": "isolated, cleaning up"},
        analyst,
    )


def test_status_change_the_transitions_forbid_is_a_form_error(
    analyst_client: Client, collaborate: Tenant
) -> None:
    incident = make_incident(collaborate)
    incident_set_status(incident=incident, status="resolved", by=None)
    data = page_data(analyst_client.get(change_url(incident)))
    data["status"] = "contained"

    response = analyst_client.post(change_url(incident), data)

    assert response.status_code == 200
    assert "status" in response.context["adminform"].form.errors
    incident.refresh_from_db()
    assert incident.status == "resolved"


# Proposing an action


def test_proposing_for_a_collaborate_tenant_waits_for_written_authorization(
    analyst_client: Client, analyst: Any, collaborate: Tenant
) -> None:
    incident = make_incident(collaborate)
    assert analyst_client.get(propose_url(incident)).status_code == 200

    response = analyst_client.post(
        propose_url(incident), {"action_type": action_type_by_code("isolate_endpoint").pk, "target": "WS-7"}
    )

    assert response.status_code == 302
    assert response["Location"] == change_url(incident)
    action = incident.actions.get()
    assert (action.status, action.basis, action.target) == (ActionStatus.AWAITING_AUTHORIZATION, "", "WS-7")
    assert action.proposed_by == analyst
    assert kinds(incident) == [EventKind.INCIDENT_OPENED, EventKind.ACTION_PROPOSED]


def test_proposing_for_an_authorize_tenant_queues_the_action_at_once(analyst_client: Client) -> None:
    incident = make_incident(make_tenant(mode=ResponseMode.AUTHORIZE))

    response = analyst_client.post(
        propose_url(incident), {"action_type": action_type_by_code("isolate_endpoint").pk, "target": "WS-7"}
    )

    assert response.status_code == 302
    action = incident.actions.get()
    assert (action.status, action.basis) == (ActionStatus.QUEUED, Basis.AUTHORIZE_MODE)
    assert kinds(incident) == [EventKind.INCIDENT_OPENED, EventKind.ACTION_PROPOSED, EventKind.ACTION_QUEUED]


@pytest.mark.parametrize("target", ["", "   "])
def test_proposing_without_a_target_is_a_form_error(
    analyst_client: Client, collaborate: Tenant, target: str
) -> None:
    incident = make_incident(collaborate)

    response = analyst_client.post(
        propose_url(incident), {"action_type": action_type_by_code("isolate_endpoint").pk, "target": target}
    )

    assert response.status_code == 200
    assert "target" in response.context["form"].errors
    assert not incident.actions.exists()
    assert kinds(incident) == [EventKind.INCIDENT_OPENED]


# Recording a written authorization


@pytest.fixture
def awaiting(collaborate: Tenant) -> tuple[Incident, ResponseAction, ResponseAction, ResponseAction]:
    incident = make_incident(collaborate)
    return (
        incident,
        propose(incident, "isolate_endpoint", "WS-0142"),
        propose(incident, "block_sha256", "e3b0c44298fc1c149afbf4c8996fb924"),
        propose(incident, "disable_user", "jdoe"),
    )


def test_recording_a_written_authorization_queues_exactly_the_chosen_actions(
    analyst_client: Client, analyst: Any, awaiting: tuple
) -> None:
    incident, isolate, block, disable = awaiting
    contact = incident.tenant.contacts.get(call_order=2)
    page = analyst_client.get(authorize_url(incident))
    assert list(page.context["form"].fields["actions"].queryset) == [isolate, block, disable]

    response = analyst_client.post(
        authorize_url(incident),
        {
            "actions": [isolate.pk, block.pk],
            "contact": contact.pk,
            "decision": "granted",
            "evidence": "Email from the CISO at 03:12: 'Yes, isolate WS-0142 and block the hash.'",
        },
    )

    assert response.status_code == 302
    authorization = Authorization.objects.get(incident=incident)
    assert authorization.channel == Channel.ANALYST_RECORDED
    assert (authorization.contact, authorization.recorded_by, authorization.user) == (contact, analyst, None)
    assert authorization.decision == "granted"
    assert "Email from the CISO" in authorization.evidence
    assert f"Isolate endpoint on WS-0142 (action #{isolate.pk})" in authorization.text_shown
    assert f"(action #{block.pk})" in authorization.text_shown
    assert f"#{disable.pk}" not in authorization.text_shown
    assert [a["action"] for a in authorization.scope] == [isolate.pk, block.pk]
    for action in (isolate, block):
        action.refresh_from_db()
        assert (action.status, action.basis) == (ActionStatus.QUEUED, Basis.WRITTEN_AUTHORIZATION)
        assert action.authorization == authorization
    disable.refresh_from_db()
    assert disable.status == ActionStatus.AWAITING_AUTHORIZATION
    assert kinds(incident)[-3:] == [
        EventKind.AUTHORIZATION_GIVEN,
        EventKind.ACTION_QUEUED,
        EventKind.ACTION_QUEUED,
    ]


def test_recording_a_declined_decision_declines_the_actions(analyst_client: Client, awaiting: tuple) -> None:
    incident, isolate, *_ = awaiting

    response = analyst_client.post(
        authorize_url(incident),
        {
            "actions": [isolate.pk],
            "contact": incident.tenant.contacts.first().pk,
            "decision": "declined",
            "evidence": "Ticket #881: 'Do not isolate, it is the payroll server.'",
        },
    )

    assert response.status_code == 302
    isolate.refresh_from_db()
    assert (isolate.status, isolate.basis) == (ActionStatus.DECLINED, "")
    assert Authorization.objects.get(incident=incident).decision == "declined"


def _nothing_recorded(incident: Incident, actions: tuple) -> None:
    assert not Authorization.objects.filter(incident=incident).exists()
    for action in actions:
        action.refresh_from_db()
        assert (action.status, action.authorization) == (ActionStatus.AWAITING_AUTHORIZATION, None)
    assert EventKind.AUTHORIZATION_GIVEN not in kinds(incident)


@pytest.mark.parametrize("evidence", ["", "  \n "])
def test_recording_without_evidence_is_a_form_error_and_changes_nothing(
    analyst_client: Client, awaiting: tuple, evidence: str
) -> None:
    incident, *actions = awaiting

    response = analyst_client.post(
        authorize_url(incident),
        {
            "actions": [a.pk for a in actions],
            "contact": incident.tenant.contacts.first().pk,
            "decision": "granted",
            "evidence": evidence,
        },
    )

    assert response.status_code == 200
    assert "evidence" in response.context["form"].errors
    _nothing_recorded(incident, actions)


@pytest.mark.parametrize(
    "contact",
    [{"can_authorize": False}, {"can_authorize": True, "active": False}],
    ids=["not allowed", "inactive"],
)
def test_contact_who_may_not_authorize_is_not_offered_and_is_refused(
    analyst_client: Client, awaiting: tuple, contact: dict[str, Any]
) -> None:
    incident, *actions = awaiting
    outsider = contact_create(
        tenant=incident.tenant, by=None, name="Receptionist", phone="+12025550177", **contact
    )

    offered = analyst_client.get(authorize_url(incident)).context["form"].fields["contact"].queryset
    assert outsider not in offered
    assert list(offered) == list(
        Contact.objects.filter(tenant=incident.tenant, can_authorize=True, active=True)
    )

    response = analyst_client.post(
        authorize_url(incident),
        {"actions": [actions[0].pk], "contact": outsider.pk, "decision": "granted", "evidence": "Go ahead."},
    )

    assert response.status_code == 200
    assert "contact" in response.context["form"].errors
    _nothing_recorded(incident, actions)


def test_contact_of_another_tenant_is_refused(analyst_client: Client, awaiting: tuple) -> None:
    incident, *actions = awaiting
    stranger = make_tenant().contacts.first()

    response = analyst_client.post(
        authorize_url(incident),
        {"actions": [actions[0].pk], "contact": stranger.pk, "decision": "granted", "evidence": "Go ahead."},
    )

    assert response.status_code == 200
    assert "contact" in response.context["form"].errors
    _nothing_recorded(incident, actions)


def test_action_of_another_incident_or_already_decided_is_refused(
    analyst_client: Client, awaiting: tuple
) -> None:
    incident, *actions = awaiting
    other = propose(make_incident(incident.tenant), "isolate_endpoint")
    queued = propose(make_incident(make_tenant(mode=ResponseMode.AUTHORIZE)), "isolate_endpoint")

    for action in (other, queued):
        response = analyst_client.post(
            authorize_url(incident),
            {
                "actions": [action.pk],
                "contact": incident.tenant.contacts.first().pk,
                "decision": "granted",
                "evidence": "Go ahead.",
            },
        )
        assert response.status_code == 200
        assert "actions" in response.context["form"].errors
    _nothing_recorded(incident, actions)


# Admin actions on the changelist


def test_propose_admin_action_with_two_incidents_warns_and_does_nothing(
    analyst_client: Client, collaborate: Tenant
) -> None:
    first, second = make_incident(collaborate), make_incident(collaborate)

    response = analyst_client.post(
        CHANGELIST, {"action": "propose_action", "_selected_action": [first.pk, second.pk], "index": 0}
    )

    assert response.status_code == 302
    assert response["Location"] == CHANGELIST
    assert [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)] == [
        ("warning", "Select exactly one incident.")
    ]
    assert not ResponseAction.objects.exists()


@pytest.mark.parametrize(
    ("name", "url"), [("propose_action", propose_url), ("record_authorization", authorize_url)]
)
def test_admin_action_with_one_incident_opens_its_form(
    analyst_client: Client, collaborate: Tenant, name: str, url: Any
) -> None:
    incident = make_incident(collaborate)

    response = analyst_client.post(
        CHANGELIST, {"action": name, "_selected_action": [incident.pk], "index": 0}
    )

    assert response.status_code == 302
    assert response["Location"] == url(incident)


def test_reapply_policy_admin_action_takes_the_current_policy(
    analyst_client: Client, collaborate: Tenant
) -> None:
    incident = make_incident(collaborate)
    tenant_update_settings(tenant=collaborate, by=None, response_mode=ResponseMode.AUTHORIZE)

    response = analyst_client.post(
        CHANGELIST, {"action": "reapply_policy", "_selected_action": [incident.pk], "index": 0}
    )

    assert response.status_code == 302
    incident.refresh_from_db()
    assert PolicySnapshot.read(incident).authorize_mode
    assert EventKind.POLICY_REAPPLIED in kinds(incident)


def test_staff_user_without_incident_permissions_is_refused_the_incident_pages(client: Client) -> None:
    incident = make_incident(make_tenant())
    login_verified(client, make_user("staffer", staff=True))

    assert client.get(CHANGELIST).status_code == 403
    assert client.get(change_url(incident)).status_code == 403
    assert client.get(ADD_URL).status_code == 403


# Filters and search


@pytest.fixture
def spread() -> dict[str, Incident]:
    """Incidents across modes, severities and statuses."""
    collab, authorize = make_tenant(), make_tenant(mode=ResponseMode.AUTHORIZE)
    incidents = {
        "collab_critical_open": make_incident(collab, severity="critical"),
        "collab_low_contained": make_incident(collab, severity="low"),
        "auth_critical_resolved": make_incident(authorize, severity="critical"),
        "auth_high_open": make_incident(authorize, severity="high"),
    }
    incident_set_status(incident=incidents["collab_low_contained"], status="contained", by=None)
    incident_set_status(incident=incidents["auth_critical_resolved"], status="resolved", by=None)
    Incident.objects.filter(pk=incidents["auth_high_open"].pk).update(title="Beaconing to evil.example")
    # Two matching actions: the incident is still listed once.
    propose(incidents["collab_low_contained"], "block_ip", "203.0.113.66")
    propose(incidents["collab_low_contained"], "block_ip", "203.0.113.66")
    return incidents


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("mode=authorize", ["auth_critical_resolved", "auth_high_open"]),
        ("mode=collaborate", ["collab_critical_open", "collab_low_contained"]),
        ("severity=critical", ["collab_critical_open", "auth_critical_resolved"]),
        ("severity__exact=critical", ["collab_critical_open", "auth_critical_resolved"]),
        ("status=open", ["collab_critical_open", "auth_high_open"]),
        ("status__exact=open", ["collab_critical_open", "auth_high_open"]),
        ("mode=authorize&status=open", ["auth_high_open"]),
        ("q=beaconing", ["auth_high_open"]),
        ("q=203.0.113.66", ["collab_low_contained"]),
        ("q=nothing-like-this", []),
    ],
)
def test_changelist_filters_and_search(
    analyst_client: Client, spread: dict[str, Incident], query: str, expected: list[str]
) -> None:
    response = analyst_client.get(f"{CHANGELIST}?{query}")

    assert response.status_code == 200
    assert shown(response) == sorted(spread[name].pk for name in expected)


def test_search_by_tenant_name(analyst_client: Client, spread: dict[str, Incident]) -> None:
    tenant = spread["auth_high_open"].tenant

    response = analyst_client.get(CHANGELIST, {"q": tenant.name})

    assert shown(response) == sorted(i.pk for i in spread.values() if i.tenant == tenant)


# Records that are never changed


@pytest.fixture
def superuser_client(client: Client) -> Client:
    login_verified(client, make_user("root", staff=True, is_superuser=True))
    return client


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


# Query counts


def _count(client: Client, url: str, django_assert_num_queries: Any, expected: int) -> Any:
    client.get(url)  # warm the per-process caches (content types, templates) out of the count
    with django_assert_num_queries(expected):
        response = client.get(url)
    assert response.status_code == 200
    return response


@pytest.mark.parametrize("incidents", [3, 15])
def test_changelist_query_count_does_not_grow_with_incidents(
    analyst_client: Client, analyst: Any, django_assert_num_queries: Any, incidents: int
) -> None:
    tenants = [make_tenant(), make_tenant(mode=ResponseMode.AUTHORIZE), make_tenant()]
    for i in range(incidents):
        make_incident(tenants[i % 3], by=analyst)

    response = _count(analyst_client, CHANGELIST, django_assert_num_queries, CHANGELIST_QUERIES)

    assert len(response.context["cl"].result_list) == incidents


@pytest.mark.parametrize("actions", [3, 12])
def test_change_page_query_count_does_not_grow_with_actions(
    analyst_client: Client, analyst: Any, django_assert_num_queries: Any, actions: int
) -> None:
    incident = make_incident(make_tenant(), by=analyst)
    codes = ["isolate_endpoint", "block_sha256", "disable_user"]
    proposed = [propose(incident, codes[i % 3], f"WS-{i}") for i in range(actions)]
    authorization_record(
        incident=incident,
        actions=proposed[:2],
        decision="granted",
        channel=Channel.ANALYST_RECORDED,
        text_shown=authorization_text(incident, proposed[:2]),
        contact=incident.tenant.contacts.first(),
        recorded_by=analyst,
        evidence="Email: go ahead.",
    )

    response = _count(analyst_client, change_url(incident), django_assert_num_queries, CHANGE_PAGE_QUERIES)

    inlines = {i.formset.prefix: i.formset for i in response.context["inline_admin_formsets"]}
    assert len(inlines["actions"].forms) == actions


# Permissions


def test_staff_user_without_add_authorization_gets_403_on_the_authorize_page(client: Client) -> None:
    incident = make_incident(make_tenant())
    propose(incident, "isolate_endpoint")
    login_verified(client, make_user("staffer", staff=True))

    assert client.get(authorize_url(incident)).status_code == 403
    response = client.post(
        authorize_url(incident),
        {
            "actions": [incident.actions.get().pk],
            "contact": incident.tenant.contacts.first().pk,
            "decision": "granted",
            "evidence": "Go ahead.",
        },
    )
    assert response.status_code == 403
    assert not Authorization.objects.exists()


def test_staff_user_without_add_responseaction_gets_403_on_the_propose_page(client: Client) -> None:
    incident = make_incident(make_tenant())
    login_verified(client, make_user("staffer", staff=True))

    assert client.get(propose_url(incident)).status_code == 403
    response = client.post(
        propose_url(incident), {"action_type": action_type_by_code("isolate_endpoint").pk, "target": "WS-1"}
    )
    assert response.status_code == 403
    assert not incident.actions.exists()


@pytest.mark.parametrize("url", [propose_url, authorize_url])
def test_customer_user_is_sent_to_the_admin_login(client: Client, url: Any) -> None:
    incident = make_incident(make_tenant())
    login_verified(client, make_user("customer"))

    response = client.get(url(incident))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_change_page_links_to_the_forms_the_user_may_use(client: Client, collaborate: Tenant) -> None:
    incident = make_incident(collaborate)
    login_verified(client, make_analyst())
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
