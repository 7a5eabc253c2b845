"""Customer pages about incidents: the home page, the incident list and timeline, and approvals.

Every incident is looked up among the user's tenants (another tenant's is a 404) and entered with the
role the page needs (too low is a 403). Writes go through the services: written authorizations through
incidents.authorizations.authorization_record (channel portal), acknowledgments through escalation.runs.services.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TypeVar

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from escalation.acknowledgments.rule import acknowledgeable, incident_acknowledgeable
from escalation.acknowledgments.services import acknowledgment_record
from escalation.emails.thread import thread_message_send
from escalation.models import Acknowledgment
from incidents.authorizations import authorization_record
from incidents.customer_tasks import open_tasks
from incidents.milestones import milestones, timeline_actions
from incidents.models import (
    ActionStatus,
    Authorization,
    Channel,
    EventKind,
    Incident,
    IncidentStatus,
    MessageSide,
    ResponseAction,
    Severity,
)
from incidents.policy import PolicySnapshot
from incidents.selectors import (
    authorization_text,
    awaiting_authorization,
    incidents_for_user,
)
from incidents.thread import thread
from incidents.timeline_reads import milestone_events, timeline_chart, timeline_page
from incidents.waiting import tenant_waiting_since
from mdrportal.core.client_address import client_address
from mdrportal.core.pagination import CustomerIncidentPages, keyset_page
from mdrportal.core.users import SignedInRequest
from mdrportal.web import access
from mdrportal.web.access import Acting, ActingRequest, portal_page, tenant_page
from mdrportal.web.deciding import decision_check
from mdrportal.web.refusals import message_refusal
from tenants.deciding import ACKNOWLEDGE, AUTHORIZE, DECLINE
from tenants.models import Role, Tenant
from tenants.rules import DECIDES

PAGE_SIZE = CustomerIncidentPages.page_size
EVENTS_PER_PAGE = 100
# One page for the whole record (a count too large for any incident).
ALL_EVENTS = 10**9
STATEMENT_REQUIRED = "Write a statement in your own words: it is kept with your decision."


def _incident(request: SignedInRequest, pk: int, minimum: Role = Role.VIEWER) -> tuple[Incident, Acting]:
    incident = get_object_or_404(incidents_for_user(request.user), pk=pk)
    return incident, access.enter(request, incident.tenant, minimum)


@tenant_page()
def home(request: ActingRequest) -> HttpResponse:
    acting = request.acting
    incidents = Incident.objects.filter(tenant=acting.tenant)
    # Each count over its own rows: counted over a join to actions, an incident counted once per action.
    awaiting = ResponseAction.objects.filter(
        incident__tenant=acting.tenant, status=ActionStatus.AWAITING_AUTHORIZATION
    )
    counts = {"open": incidents.filter(status=IncidentStatus.OPEN).count(), "awaiting": awaiting.count()}
    return render(
        request,
        "pages/home.html",
        {
            "section": "home",
            "tenant": acting.tenant,
            "counts": counts,
            "waiting_since": tenant_waiting_since(acting.tenant),
            "open_tasks": open_tasks().filter(incident__tenant=acting.tenant).count(),
            "recent": incidents.order_by("-opened_at", "-id")[:5],
        },
    )


# The incidents to filter, annotated or not.
Filtered = TypeVar("Filtered", bound=QuerySet[Incident])


class StatusFilters(forms.Form):
    """The filters every incident list has (the customer's and the partner console's)."""

    status = forms.ChoiceField(choices=[("", "Any status"), *IncidentStatus.choices], required=False)
    severity = forms.ChoiceField(choices=[("", "Any severity"), *Severity.choices], required=False)


class IncidentFilters(StatusFilters):
    opened_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    opened_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def apply(self, incidents: Filtered) -> Filtered:
        data = self.cleaned_data
        if data.get("status"):
            incidents = incidents.filter(status=data["status"])
        if data.get("severity"):
            incidents = incidents.filter(severity=data["severity"])
        # Days in the active time zone (the tenant's, set when the page was entered), as a range of
        # instants so that the index on the opening time serves it.
        if data.get("opened_from"):
            incidents = incidents.filter(opened_at__gte=_day_start(data["opened_from"]))
        if data.get("opened_to"):
            incidents = incidents.filter(opened_at__lt=_day_start(data["opened_to"] + timedelta(days=1)))
        return incidents


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@tenant_page()
def incident_list(request: ActingRequest) -> HttpResponse:
    tenant = request.acting.tenant
    filters = IncidentFilters(request.GET or None)
    # A subquery per shown incident, not a join grouped over every incident of the tenant.
    awaiting = (
        ResponseAction.objects.filter(incident=OuterRef("pk"), status=ActionStatus.AWAITING_AUTHORIZATION)
        .values("incident")
        .annotate(n=Count("pk"))
        .values("n")
    )
    incidents = Incident.objects.filter(tenant=tenant).annotate(awaiting=Coalesce(Subquery(awaiting), 0))
    if filters.is_valid():
        incidents = filters.apply(incidents)
    page = keyset_page(CustomerIncidentPages(), incidents, request)
    return render(
        request, "pages/incident_list.html", {"section": "incidents", "filters": filters, "page": page}
    )


@portal_page
def incident_detail(request: SignedInRequest, pk: int) -> HttpResponse:
    """Every event in order with actor and channel, in pages, the durations that matter and the drawn
    timeline, which summarizes every event of the incident."""
    incident, acting = _incident(request, pk)
    # "?events=all" puts every event on one page: the record to print, however long.
    every = request.GET.get("events") == "all"
    events_page = timeline_page(
        incident, None if every else request.GET.get("page"), ALL_EVENTS if every else EVENTS_PER_PAGE
    )
    actions = list(timeline_actions(incident))
    firsts = milestone_events(incident, actions)
    marks = milestones(incident, firsts, actions)
    acknowledged = next((e for e in firsts if e.kind == EventKind.ACKNOWLEDGED), None)
    return render(
        request,
        "pages/incident_detail.html",
        {
            "section": "incidents",
            "incident": incident,
            "policy": PolicySnapshot.read(incident),
            "events": events_page.object_list,
            "events_page": events_page,
            "all_events_url": request.build_absolute_uri(
                reverse("incidents:detail", args=[incident.pk]) + "?events=all"
            ),
            "actions": actions,
            "milestones": marks,
            "chart": timeline_chart(incident, marks),
            "acknowledged": acknowledged,
            "can_acknowledge": acting.is_approver
            and incident_acknowledgeable(incident)
            and acknowledged is None,
            "awaiting": sum(1 for a in actions if a.status == ActionStatus.AWAITING_AUTHORIZATION),
            "thread": thread(incident),
        },
    )


@require_POST
@portal_page
def incident_acknowledge(request: SignedInRequest, pk: int) -> HttpResponse:
    """'We have it': further calls stop. It authorizes nothing (DESIGN rule 5)."""
    incident, _acting = _incident(request, pk, DECIDES)
    back = request.POST.get("back")
    page = reverse("incidents:approvals") if back == "approvals" else reverse("incidents:detail", args=[pk])
    refused = decision_check(request, tenant=incident.tenant, operation=ACKNOWLEDGE, back=page)
    if refused is not None:
        return refused
    try:
        acknowledgment_record(incident=incident, channel=Channel.PORTAL, user=request.user)
    except ValidationError as error:
        message_refusal(request, error)
    else:
        messages.success(
            request,
            f"You acknowledged incident #{incident.pk}: MDR Ops stops calling. This is not an authorization; "
            "actions waiting for one still wait.",
        )
    return redirect(page)


# Approvals ----------------------------------------------------------------------------------------


@dataclass
class Pending:
    """One incident's actions awaiting written authorization, as the approver sees them."""

    incident: Incident
    header: str
    lines: list[tuple[ResponseAction, str]]
    selected: set[int] = field(default_factory=set)
    statement: str = ""
    errors: list[str] = field(default_factory=list)


def _pending(tenant: Tenant, posted: Pending | None = None) -> list[Pending]:
    actions = (
        ResponseAction.objects.filter(incident__tenant=tenant, status=ActionStatus.AWAITING_AUTHORIZATION)
        .select_related("action_type", "incident__tenant")
        .order_by("incident__opened_at", "incident_id", "proposed_at", "id")
    )
    by_incident: dict[int, list[ResponseAction]] = {}
    for action in actions:
        by_incident.setdefault(action.incident_id, []).append(action)
    pending = []
    for group in by_incident.values():
        incident = group[0].incident
        # The exact text: its first line, then one line per action, as authorization_text writes it.
        header, *lines = authorization_text(incident, group).split("\n")
        item = Pending(incident, header, list(zip(group, lines, strict=True)), {a.pk for a in group})
        if posted is not None and posted.incident.pk == incident.pk:
            item.selected, item.statement, item.errors = posted.selected, posted.statement, posted.errors
        pending.append(item)
    return pending


def _approvals(
    request: SignedInRequest, tenant: Tenant, posted: Pending | None = None, status: int = 200
) -> HttpResponse:
    unacknowledged = (
        Incident.objects.filter(acknowledgeable(), tenant=tenant)
        .annotate(acknowledged=Exists(Acknowledgment.objects.filter(incident=OuterRef("pk"))))
        .filter(acknowledged=False)
        .order_by("-opened_at", "-id")
    )
    pending = _pending(tenant, posted)
    # Errors about an incident that has nothing left to decide have no form to sit on: shown on top.
    shown_with_form = posted is not None and any(p.incident.pk == posted.incident.pk for p in pending)
    context = {
        "section": "approvals",
        "pending": pending,
        "unacknowledged": unacknowledged,
        "page_errors": posted.errors if posted is not None and not shown_with_form else [],
    }
    return render(request, "pages/approvals.html", context, status=status)


@tenant_page(DECIDES)
def approvals(request: ActingRequest) -> HttpResponse:
    """The actions awaiting written authorization, with what each does and to what."""
    return _approvals(request, request.acting.tenant)


@require_POST
@portal_page
def approval_decide(request: SignedInRequest, pk: int) -> HttpResponse:
    """Authorize or decline, in writing, the actions the approver ticked, with the exact text shown."""
    incident, acting = _incident(request, pk, DECIDES)
    decision = request.POST.get("decision")
    operation = DECLINE if decision == Authorization.Decision.DECLINED else AUTHORIZE
    refused = decision_check(request, tenant=incident.tenant, operation=operation, back="incidents:approvals")
    if refused is not None:
        return refused
    statement = request.POST.get("statement", "").strip()
    try:
        ids = {int(v) for v in request.POST.getlist("actions")}
    except ValueError:
        ids = set()
    posted = Pending(incident, "", [], ids, statement)
    if decision not in Authorization.Decision.values:
        posted.errors.append("Choose to authorize or to decline.")
    if not ids:
        posted.errors.append("Tick at least one action.")
    if not statement:
        posted.errors.append(STATEMENT_REQUIRED)
    actions = list(awaiting_authorization(incident).filter(pk__in=ids).select_related("incident__tenant"))
    if ids and len(actions) != len(ids):
        posted.errors.append(
            "Some of these actions are no longer awaiting authorization (decided meanwhile): review the list again."
        )
    if posted.errors:
        return _approvals(request, acting.tenant, posted, status=400)
    assert decision is not None  # a decision outside the choices was refused just above
    try:
        authorization_record(
            incident=incident,
            actions=actions,
            decision=decision,
            channel=Channel.PORTAL,
            text_shown=authorization_text(incident, actions),
            user=request.user,
            statement=statement,
            ip_address=client_address(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
    except ValidationError as error:
        posted.errors.extend(error.messages)
        return _approvals(request, acting.tenant, posted, status=400)
    verb = "authorized" if decision == Authorization.Decision.GRANTED else "declined"
    messages.success(
        request,
        f"You {verb} in writing {len(actions)} action{'s' if len(actions) != 1 else ''} on incident "
        f"#{incident.pk}. Your decision is on the incident's timeline.",
    )
    return redirect(reverse("incidents:approvals"))


@require_POST
@portal_page
def incident_message(request: SignedInRequest, pk: int) -> HttpResponse:
    """The customer writes to MDR Ops in the incident's thread; any of the tenant's users may, since a
    message decides nothing."""
    incident, _acting = _incident(request, pk)
    try:
        thread_message_send(
            incident=incident, body=request.POST.get("body", ""), side=MessageSide.CUSTOMER, by=request.user
        )
    except ValidationError as error:
        message_refusal(request, error)
    else:
        messages.success(request, "Your message was sent to MDR Ops. It authorizes no action.")
    return redirect("incidents:detail", pk=incident.pk)
