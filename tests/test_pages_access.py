"""Every page of the project, walked as every persona: each is refused or allowed as the table says.

The table is keyed by the route as the URL resolver writes it; a page that is not in the table fails the
test, so a new page cannot ship without saying who may open it. Admin, API and phone-provider webhooks
have their own tests (they authenticate differently).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from incidents.models import ActionType
from reports.periods import previous_month
from reports.recipients import report_recipient_add
from tenants.api_tokens import api_token_create
from tenants.models import ApiToken, Partner, Performer, Role
from tenants.performer_services import performer_set
from tenants.protected_services import protected_target_add
from tests.factories import first_contact, login_verified, make_incident, make_member, make_tenant, propose
from tests.url_routes import all_routes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_passwords")]

PERSONAS = ("anonymous", "outsider", "viewer", "approver", "admin")
LOGIN = "login"  # sent to the login page
ADMIN_LOGIN = "admin login"  # sent to the admin's login page: MDR staff only
EXCLUDED_PREFIXES = ("admin/", "api/")
# Phone-provider webhooks check the provider's signature instead of a session: tested with escalation.
WEBHOOK_PREFIXES = ("twilio/",)


@dataclass
class World:
    """A tenant with users of every role, an incident with an action awaiting authorization, and an
    outsider: the admin of another tenant, with an incident and a contact of its own."""

    tenant: Any
    incident: Any
    action: Any
    contact: Any
    users: dict[str, Any]


@dataclass(frozen=True)
class Check:
    method: str
    url: Callable[[World], str]
    expect: dict[str, int | str]
    data: Callable[[World], dict[str, Any]] | None = None
    debug: bool = False  # run with DEBUG on (pages that exist only in development)


def token_of(world: World) -> ApiToken:
    """An API token of the tenant's admin."""
    token, _key = api_token_create(user=world.users["admin"], second_factor_at=None)
    return token


def everyone(status: int) -> dict[str, int | str]:
    return {"anonymous": LOGIN, "outsider": status, "viewer": status, "approver": status, "admin": status}


def nobody(status: int | str) -> dict[str, int | str]:
    return dict.fromkeys(PERSONAS, status)


def object_page(*, viewer: int, approver: int, admin: int) -> dict[str, int | str]:
    """A page about one of the tenant's objects: the outsider never learns it exists."""
    return {"anonymous": LOGIN, "outsider": 404, "viewer": viewer, "approver": approver, "admin": admin}


def contact_change(url_name: str, data: dict[str, str]) -> Check:
    """A post about one of the tenant's contacts: its admins only."""
    return Check(
        "post",
        lambda w: reverse(url_name, args=[w.contact.pk]),
        object_page(viewer=403, approver=403, admin=302),
        (lambda w: data) if data else None,
    )


def simulated_phone(method: str, url_name: str, *args: Any) -> list[Check]:
    """A page of the simulated phone: absent in production, for MDR staff only in development."""
    return [
        Check(method, lambda w: reverse(url_name, args=args), nobody(404)),
        Check(method, lambda w: reverse(url_name, args=args), nobody(ADMIN_LOGIN), debug=True),
    ]


def settings_data(world: World) -> dict[str, Any]:
    t = world.tenant
    return {
        "response_mode": t.response_mode,
        "call_attempts_per_contact": t.call_attempts_per_contact,
        "ring_timeout_seconds": t.ring_timeout_seconds,
        "timezone": t.timezone,
        "reminder_minutes": t.reminder_minutes,
        "reminder_count": t.reminder_count,
    }


def task_of(world: World) -> Any:
    """A task for the tenant's own team, on an incident opened after the team was given the action type."""
    performer_set(tenant=world.tenant, by=None, action_code="disable_user", performer=Performer.CUSTOMER)
    return propose(make_incident(world.tenant), "disable_user", target="jdoe")


def recipient_of(world: World) -> Any:
    """One of the tenant's monthly report recipients."""
    return report_recipient_add(tenant=world.tenant, by=None, email=f"cfo{next(_serial)}@example.com")


def last_month() -> str:
    return f"{previous_month(timezone.now().date()).start:%Y-%m}"


def protected_of(world: World) -> Any:
    """One of the tenant's protected assets (a new one each time: the admin's check removes it)."""
    return protected_target_add(tenant=world.tenant, by=None, kind="account", value=f"svc-{next(_serial)}")


_serial = itertools.count()


def partner_slug() -> str:
    return Partner.objects.get_or_create(slug="walk-msp", defaults={"name": "Walk MSP"})[0].slug


def performers_data(world: World) -> dict[str, Any]:
    return {f"performer_{code}": "mdr" for code in ActionType.objects.values_list("code", flat=True)}


TABLE: dict[str, list[Check]] = {
    "": [Check("get", lambda w: reverse("home"), everyone(200))],
    "login/": [
        Check("get", lambda w: reverse("login"), {**everyone(302), "anonymous": 200}),
    ],
    "logout/": [Check("post", lambda w: reverse("logout"), {**everyone(302), "anonymous": 302})],
    # Each signed-in person's own time zone; a name that is no zone is refused on its field.
    "account/": [
        Check("get", lambda w: reverse("account"), everyone(200)),
        Check("post", lambda w: reverse("account"), everyone(400), lambda w: {"time_zone": "Mars/Olympus"}),
    ],
    # Signed-in users pass their second factor here (verified ones again, for a step-up).
    "account/second-factor/": [
        Check("get", lambda w: reverse("second_factor"), everyone(200)),
        Check("post", lambda w: reverse("second_factor"), everyone(400), lambda w: {"code": "not-a-code"}),
    ],
    # Each signed-in person's own API tokens; revoking one of the admin's: the admin only, a 404 for others.
    "account/api-tokens/": [Check("get", lambda w: reverse("api_tokens"), everyone(200))],
    "account/api-tokens/<int:pk>/revoke/": [
        Check(
            "post",
            lambda w: reverse("api_token_revoke", args=[token_of(w).pk]),
            {**everyone(404), "admin": 302},
        )
    ],
    "tenant/": [
        Check("get", lambda w: reverse("tenants:choose"), everyone(200)),
        Check(
            "post",
            lambda w: reverse("tenants:choose"),
            {**everyone(302), "outsider": 404},
            lambda w: {"tenant": w.tenant.pk},
        ),
    ],
    "settings/": [
        Check("get", lambda w: reverse("tenants:settings"), everyone(200)),
        # The outsider is an admin: of its own tenant, whose settings it may change.
        Check(
            "post",
            lambda w: reverse("tenants:settings"),
            {**everyone(302), "viewer": 403, "approver": 403},
            settings_data,
        ),
    ],
    "settings/performers/": [
        Check(
            "post",
            lambda w: reverse("tenants:performers"),
            {**everyone(302), "viewer": 403, "approver": 403},
            performers_data,
        ),
    ],
    # What MDR Ops never acts on without written authorization: the tenant's admins change it.
    "settings/protected/": [
        Check(
            "post",
            lambda w: reverse("tenants:protected_add"),
            {**everyone(302), "viewer": 403, "approver": 403},
            lambda w: {"kind": "host", "value": "dc-*"},
        ),
    ],
    "settings/protected/<int:pk>/remove/": [
        Check(
            "post",
            lambda w: reverse("tenants:protected_remove", args=[protected_of(w).pk]),
            object_page(viewer=403, approver=403, admin=302),
        ),
    ],
    # Back to the partner's default for one setting: the tenant's admins (no partner here: nothing changes).
    "settings/inherit/<slug:field>/": [
        Check(
            "post",
            lambda w: reverse("tenants:setting_inherit", args=["reminder_minutes"]),
            {**everyone(302), "viewer": 403, "approver": 403},
        ),
    ],
    # What the customer lets its partner do: its own admins (the world's tenant has no partner: unchanged).
    "settings/partner/": [
        Check(
            "post",
            lambda w: reverse("tenants:delegation"),
            {**everyone(302), "viewer": 403, "approver": 403},
            lambda w: {},
        ),
    ],
    # A partner's console: its own people (and MDR staff) only; none of the personas is one of them.
    "partners/": [Check("get", lambda w: reverse("partner_consoles"), everyone(404))],
    "partners/<slug:slug>/": [
        Check("get", lambda w: reverse("partner_console", args=[partner_slug()]), everyone(404))
    ],
    "partners/<slug:slug>/incidents/": [
        Check("get", lambda w: reverse("partner_console_incidents", args=[partner_slug()]), everyone(404))
    ],
    "partners/<slug:slug>/tasks/": [
        Check("get", lambda w: reverse("partner_console_tasks", args=[partner_slug()]), everyone(404))
    ],
    # A partner's defaults: its own people only; none of the personas is one of them.
    "partners/<slug:slug>/defaults/": [
        Check("get", lambda w: reverse("partner_defaults", args=[partner_slug()]), everyone(404)),
        Check(
            "post",
            lambda w: reverse("partner_defaults", args=[partner_slug()]),
            everyone(404),
            lambda w: {"reminder_minutes": "30"},
        ),
    ],
    # A partner's contacts and their hours: its own people read them, its admins set them; none of the
    # personas is one of them.
    "partners/<slug:slug>/contacts/": [
        Check("get", lambda w: reverse("partner_contacts", args=[partner_slug()]), everyone(404))
    ],
    "partners/<slug:slug>/contacts/<int:pk>/availability/": [
        Check(
            "post",
            lambda w: reverse("partner_contact_availability", args=[partner_slug(), 1]),
            everyone(404),
            lambda w: {"c1-windows": "Mon-Fri 08:00-18:00"},
        ),
    ],
    # Who receives the partner's monthly roll-up: its own people read it, its admins change it; none of the
    # personas is one of them.
    "partners/<slug:slug>/report-recipients/": [
        Check("get", lambda w: reverse("partner_report_recipients", args=[partner_slug()]), everyone(404))
    ],
    "partners/<slug:slug>/report-recipients/add/": [
        Check(
            "post",
            lambda w: reverse("partner_report_recipient_add", args=[partner_slug()]),
            everyone(404),
            lambda w: {"email": "msp@example.com"},
        ),
    ],
    "partners/<slug:slug>/report-recipients/<int:pk>/remove/": [
        Check(
            "post",
            lambda w: reverse("partner_report_recipient_remove", args=[partner_slug(), 1]),
            everyone(404),
        ),
    ],
    "partners/<slug:slug>/report-recipients/<int:pk>/resend/": [
        Check(
            "post",
            lambda w: reverse("partner_report_recipient_resend", args=[partner_slug(), 1]),
            everyone(404),
            lambda w: {"period": last_month()},
        ),
    ],
    # The partner's default protected assets: its admins only; none of the personas is one of its people.
    "partners/<slug:slug>/defaults/protected/": [
        Check(
            "post",
            lambda w: reverse("partner_protected_add", args=[partner_slug()]),
            everyone(404),
            lambda w: {"kind": "host", "value": "dc-*"},
        ),
    ],
    "partners/<slug:slug>/defaults/protected/<int:pk>/remove/": [
        Check("post", lambda w: reverse("partner_protected_remove", args=[partner_slug(), 1]), everyone(404)),
    ],
    # Opting out of the partner's protected-asset list: the tenant's admins (no partner here: refused
    # with a message, back to the settings page).
    "settings/protected/opt-out/": [
        Check(
            "post",
            lambda w: reverse("tenants:protected_opt_out"),
            {**everyone(302), "viewer": 403, "approver": 403},
        ),
    ],
    "contacts/": [Check("get", lambda w: reverse("tenants:contacts"), everyone(200))],
    "contacts/add/": [
        Check(
            "get", lambda w: reverse("tenants:contact_add"), {**everyone(200), "viewer": 403, "approver": 403}
        )
    ],
    "contacts/<int:pk>/edit/": [
        Check(
            "get",
            lambda w: reverse("tenants:contact_edit", args=[w.contact.pk]),
            object_page(viewer=403, approver=403, admin=200),
        )
    ],
    "contacts/<int:pk>/active/": [contact_change("tenants:contact_active", {"active": "1"})],
    "contacts/<int:pk>/move/": [contact_change("tenants:contact_move", {"direction": "down"})],
    # Places a real call through the phone backend (the simulated one here): admins only.
    "contacts/<int:pk>/test-call/": [contact_change("tenants:contact_test_call", {})],
    "incidents/": [Check("get", lambda w: reverse("incidents:list"), everyone(200))],
    "incidents/<int:pk>/": [
        Check(
            "get",
            lambda w: reverse("incidents:detail", args=[w.incident.pk]),
            object_page(viewer=200, approver=200, admin=200),
        )
    ],
    "incidents/<int:pk>/acknowledge/": [
        Check(
            "post",
            lambda w: reverse("incidents:acknowledge", args=[w.incident.pk]),
            object_page(viewer=403, approver=302, admin=302),
        )
    ],
    # A message decides nothing: every user of the tenant may write one.
    "incidents/<int:pk>/messages/": [
        Check(
            "post",
            lambda w: reverse("incidents:message", args=[w.incident.pk]),
            object_page(viewer=302, approver=302, admin=302),
            lambda w: {"body": "Is FS-01 still isolated?"},
        )
    ],
    "approvals/": [
        Check("get", lambda w: reverse("incidents:approvals"), {**everyone(200), "viewer": 403}),
    ],
    "approvals/<int:pk>/": [
        Check(
            "post",
            lambda w: reverse("incidents:decide", args=[w.incident.pk]),
            object_page(viewer=403, approver=302, admin=302),
            lambda w: {"actions": [w.action.pk], "decision": "granted", "statement": "Go ahead."},
        )
    ],
    "tasks/": [Check("get", lambda w: reverse("incidents:tasks"), everyone(200))],
    # The tenant's own team marks its tasks: its admins and approvers.
    "tasks/<int:pk>/mark/": [
        Check(
            "post",
            lambda w: reverse("incidents:task_mark", args=[task_of(w).pk]),
            object_page(viewer=403, approver=302, admin=302),
            lambda w: {"done": "yes", "note": "Disabled."},
        )
    ],
    # A report covers the user's own tenants: everyone signed in reads one; naming another's is a form error.
    "reports/": [
        Check("get", lambda w: reverse("reports:page"), everyone(200)),
        Check(
            "get",
            lambda w: reverse("reports:page"),
            {**everyone(200), "outsider": 400},
            lambda w: {"period": "last_month", "tenant": w.tenant.pk},
        ),
    ],
    "reports/incidents.csv": [
        Check("get", lambda w: reverse("reports:csv"), everyone(200)),
        Check(
            "get",
            lambda w: reverse("reports:csv"),
            {**everyone(200), "outsider": 400},
            lambda w: {"period": "this_month", "tenant": w.tenant.pk},
        ),
    ],
    "reports/report.pdf": [
        Check("get", lambda w: reverse("reports:pdf"), everyone(200)),
        Check(
            "get",
            lambda w: reverse("reports:pdf"),
            {**everyone(200), "outsider": 400},
            lambda w: {"period": "this_month", "tenant": w.tenant.pk},
        ),
    ],
    # The monthly email: everyone reads who receives it; the tenant's admins change it (the outsider: its own).
    "reports/recipients/": [Check("get", lambda w: reverse("reports:recipients"), everyone(200))],
    "reports/recipients/add/": [
        Check(
            "post",
            lambda w: reverse("reports:recipient_add"),
            {**everyone(302), "viewer": 403, "approver": 403},
            lambda w: {"email": "cfo@example.com"},
        ),
    ],
    "reports/recipients/monthly/": [
        Check(
            "post",
            lambda w: reverse("reports:monthly_switch"),
            {**everyone(302), "viewer": 403, "approver": 403},
            lambda w: {"enabled": "on"},
        ),
    ],
    "reports/recipients/<int:pk>/remove/": [
        Check(
            "post",
            lambda w: reverse("reports:recipient_remove", args=[recipient_of(w).pk]),
            object_page(viewer=403, approver=403, admin=302),
        ),
    ],
    "reports/recipients/<int:pk>/resend/": [
        Check(
            "post",
            lambda w: reverse("reports:recipient_resend", args=[recipient_of(w).pk]),
            object_page(viewer=403, approver=403, admin=302),
            lambda w: {"period": last_month()},
        ),
    ],
    "incidents/<int:pk>/record.pdf": [
        Check(
            "get",
            lambda w: reverse("reports:incident_pdf", args=[w.incident.pk]),
            object_page(viewer=200, approver=200, admin=200),
        )
    ],
    "dev/phone/": simulated_phone("get", "simulated_phone:page"),
    "dev/phone/<int:attempt_id>/<slug:button>/": simulated_phone(
        "post", "simulated_phone:press", 1, "answer-press-1"
    ),
    "dev/phone/text/<int:text_id>/<slug:reply>/": simulated_phone(
        "post", "simulated_phone:text_reply", 1, "ack"
    ),
    # An emailed link: the signed token is the credential, whoever is signed in; a forged one is refused.
    "l/<str:token>/": [
        Check("get", lambda w: reverse("link", args=["forged.token"]), nobody(400)),
    ],
}


def project_pages() -> set[str]:
    skipped = EXCLUDED_PREFIXES + WEBHOOK_PREFIXES
    return {route for route in all_routes() if not route.startswith(skipped)}


def test_every_page_of_the_project_is_in_the_access_table() -> None:
    pages = project_pages()
    assert sorted(pages - set(TABLE)) == [], "pages missing from the access table"
    assert sorted(set(TABLE) - pages) == [], "table rows for pages that no longer exist"


@pytest.fixture
def world() -> World:
    tenant = make_tenant(phones=2)
    other = make_tenant(phones=2)
    incident = make_incident(tenant)
    action = propose(incident, "isolate_endpoint")
    # The outsider's own objects exist too, so a 404 is not merely an empty database.
    make_incident(other)
    users = {role.value: make_member(tenant, role) for role in Role}
    users["outsider"] = make_member(other, Role.ADMIN)
    return World(tenant=tenant, incident=incident, action=action, contact=first_contact(tenant), users=users)


CASES = [
    pytest.param(
        route,
        index,
        persona,
        id=f"{check.method.upper()} /{route}{' (DEBUG)' if check.debug else ''} as {persona}",
    )
    for route, checks in TABLE.items()
    for index, check in enumerate(checks)
    for persona in PERSONAS
]


@pytest.mark.parametrize(("route", "index", "persona"), CASES)
def test_page_access(world: World, settings: Any, route: str, index: int, persona: str) -> None:
    check = TABLE[route][index]
    settings.DEBUG = check.debug
    client = Client()
    if persona != "anonymous":
        login_verified(client, world.users[persona])
    url = check.url(world)
    data = check.data(world) if check.data else {}
    response = getattr(client, check.method)(url, data)
    expected = check.expect[persona]
    login = reverse("login")
    if expected in (LOGIN, ADMIN_LOGIN):
        page = login if expected == LOGIN else reverse("admin:login")
        assert response.status_code == 302, response.content[:300]
        assert response["Location"].startswith(f"{page}?next="), response["Location"]
        return
    assert response.status_code == expected, (response.status_code, response.content[:500])
    if expected == 302 and route != "logout/":
        assert not response["Location"].startswith(login), "allowed, but sent to the login page"
