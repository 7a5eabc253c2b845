"""Analysts' admin: incidents with their actions and timeline (the response actions' own admin is in
incidents.admin_response_actions); every write goes through a service."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import InlineModelAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import ForeignKey, QuerySet
from django.forms import ModelChoiceField
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from escalation.runs.lifecycle import incident_change_status
from escalation.runs.services import notification_start
from incidents.actions import action_propose
from incidents.admin_bulk import bulk_propose_view
from incidents.admin_case_file import MessageInline, NoteInline, ObservableInline
from incidents.admin_case_templates import apply_template_view
from incidents.admin_queue import (
    QueueColumns,
    QueueViewFilter,
    ResponseModeFilter,
    SeverityFilter,
    StatusFilter,
)
from incidents.admin_response_actions import action_form_page, action_row_buttons
from incidents.authorizations import authorization_record
from incidents.case_file import CASE_FILE_FIELDS, incident_edit
from incidents.case_templates import case_template_apply
from incidents.forms import IncidentForm, ProposeActionForm, RecordAuthorizationForm
from incidents.models import ActionType, Authorization, Channel, Incident, ResponseAction, TimelineEvent
from incidents.policy import PolicySnapshot
from incidents.queue import incident_assign, staff_owners
from incidents.selectors import authorization_text
from incidents.services import incident_clear_attention, incident_open, incident_reapply_policy
from mdrportal.core.admin_readonly import ReadOnlyAdminMixin, ReadOnlyInline
from mdrportal.core.admin_retry import RetriedChangeFormMixin
from mdrportal.core.users import SignedInRequest, User, signed_in_user
from mdrportal.web.deciding import admin_step_up


class ResponseActionInline(ReadOnlyInline):
    model = ResponseAction
    fields = readonly_fields = (
        "action_type",
        "target",
        "status",
        "performer",
        "basis",
        "decision_reason",
        "authorization",
        "uses",
        "buttons",
    )

    @admin.display(description="")
    def buttons(self, obj: ResponseAction) -> str:
        return action_row_buttons(obj)

    @admin.display(description="observables")
    def uses(self, obj: ResponseAction) -> str:
        return ", ".join(str(o) for o in obj.observables.all()) or "—"

    ordering = ["proposed_at", "id"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ResponseAction]:
        # Each row shows its action type (also in the row's title), authorization and observables: no N+1.
        return (
            super()
            .get_queryset(request)
            .select_related("action_type", "authorization")
            .prefetch_related("observables")
        )


class TimelineEventInline(ReadOnlyInline):
    model = TimelineEvent
    fields = readonly_fields = ("at", "kind", "actor_label", "channel", "summary")
    ordering = ["at", "id"]
    verbose_name_plural = "timeline"


@admin.register(Incident)
class IncidentAdmin(RetriedChangeFormMixin, QueueColumns):
    list_display = [
        "id",
        "title",
        "tenant",
        "severity",
        "status",
        "mode",
        "owner_display",
        "attention",
        "waiting_since",
        "open_tasks",
        "opened_at",
    ]
    list_display_links = ["id", "title"]
    list_filter = [
        QueueViewFilter,
        "tenant",
        SeverityFilter,
        StatusFilter,
        ResponseModeFilter,
        "needs_attention",
    ]
    list_select_related = ["tenant", "owner"]
    search_fields = ["title", "summary", "tenant__name", "actions__target"]
    date_hierarchy = "opened_at"
    form = IncidentForm
    inlines = [ResponseActionInline, MessageInline, NoteInline, ObservableInline, TimelineEventInline]
    actions = [
        "assign_to_me",
        "start_notification",
        "propose_action",
        "record_authorization",
        "reapply_policy",
        "clear_attention",
    ]
    change_form_template = "admin/incidents/incident/change_form.html"
    opening_fields = ["tenant", "title", "severity", "summary", "observed_activity", "recommendations"]

    @admin.display(description="mode")
    def mode(self, obj: Incident) -> str:
        return PolicySnapshot.read(obj).mode_label

    @admin.display(description="policy in force")
    def policy_display(self, obj: Incident) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.policy, indent=2, sort_keys=True))

    def get_inlines(
        self, request: HttpRequest, obj: Incident | None = None
    ) -> list[type[InlineModelAdmin[Any, Any]]]:
        # A new incident has no actions or events yet; the service writes its first event.
        return list(self.inlines) if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Incident | None = None) -> tuple[str, ...]:
        if obj is None:
            return (*self.opening_fields, "case_template")
        return (
            *self.opening_fields,
            "status",
            "status_reason",
            "owner",
            "needs_attention",
            "attention_reason",
            "attention_since",
            "policy_display",
            "fallback_taken_at",
            "opened_at",
            "opened_by",
            "opened_by_key",
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Incident | None = None) -> list[str]:
        if obj is None:
            return []
        return [
            "tenant",  # the rest of the opening fields is the living case file, edited through its service
            "needs_attention",
            "attention_reason",
            "attention_since",
            "policy_display",
            "fallback_taken_at",
            "opened_at",
            "opened_by",
            "opened_by_key",
        ]

    def save_model(self, request: HttpRequest, obj: Incident, form: IncidentForm, change: bool) -> None:
        by = signed_in_user(request)
        if change:
            self._save_owner(request, obj, form, by)
            self._save_case_file(obj, form, by)
            if "status" in form.changed_data:
                # Resolving or closing stops the calls and cancels waiting and queued actions.
                incident_change_status(
                    incident=Incident.objects.get(pk=obj.pk),
                    status=obj.status,
                    by=by,
                    reason=form.cleaned_data.get("status_reason", ""),
                )
            return
        opened = incident_open(by=by, **{f: form.cleaned_data[f] for f in self.opening_fields})
        obj.pk, obj._state.adding, obj._state.db = opened.pk, False, opened._state.db
        if form.cleaned_data.get("case_template"):
            case_template_apply(incident=opened, template=form.cleaned_data["case_template"], by=by)

    def _save_owner(self, request: HttpRequest, obj: Incident, form: IncidentForm, by: User) -> None:
        # Assigning goes through the queue's service: it is a timeline event.
        if "owner" in form.changed_data:
            try:
                incident_assign(incident=Incident.objects.get(pk=obj.pk), owner=obj.owner, by=by)
            except ValidationError as error:
                self.message_user(request, f"Owner not changed: {' '.join(error.messages)}", messages.WARNING)

    def _save_case_file(self, obj: Incident, form: IncidentForm, by: User) -> None:
        changes = {name: form.cleaned_data[name] for name in CASE_FILE_FIELDS if name in form.changed_data}
        if changes:
            incident_edit(incident=Incident.objects.get(pk=obj.pk), by=by, **changes)

    def formfield_for_foreignkey(
        self, db_field: ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> ModelChoiceField[Any] | None:
        if db_field.name == "owner":
            kwargs["queryset"] = staff_owners()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_related(
        self, request: HttpRequest, form: IncidentForm, formsets: list[Any], change: bool
    ) -> None:
        # Actions and events are written by services only; the inlines are read-only and save nothing.
        # The admin's change message (LogEntry) reads what formset.save() would have noted.
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    # Admin actions: each works on one incident and opens its form.
    def _one(self, request: HttpRequest, queryset: QuerySet[Incident], view: str) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one incident.", messages.WARNING)
            return None
        return HttpResponseRedirect(reverse(f"admin:incidents_incident_{view}", args=[queryset.get().pk]))

    @admin.action(description="Propose a response action", permissions=["propose"])
    def propose_action(self, request: HttpRequest, queryset: QuerySet[Incident]) -> HttpResponse | None:
        return self._one(request, queryset, "propose")

    @admin.action(description="Record a written authorization received elsewhere", permissions=["authorize"])
    def record_authorization(self, request: HttpRequest, queryset: QuerySet[Incident]) -> HttpResponse | None:
        return self._one(request, queryset, "authorize")

    @admin.action(description="Start notification (emails, then the call tree)", permissions=["change"])
    def start_notification(self, request: SignedInRequest, queryset: QuerySet[Incident]) -> None:
        for incident in queryset:
            self._notify(request, incident)

    def _notify(self, request: SignedInRequest, incident: Incident) -> None:
        """Start notifying early, by hand; starting while a round is under way changes nothing, one waiting
        for its time (nobody acknowledged the last) starts now."""
        try:
            run = notification_start(incident=incident, by=request.user, channel=Channel.ADMIN)
        except ValidationError as error:
            self.message_user(request, f"{incident}: {' '.join(error.messages)}", messages.WARNING)
            return
        self.message_user(
            request, f"{incident}: notification round {run.round} is {run.get_state_display()}."
        )

    def notify_view(self, request: SignedInRequest, pk: int) -> HttpResponse:
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        incident = get_object_or_404(Incident.objects.select_related("tenant"), pk=pk)
        self._notify(request, incident)
        return self._done(incident)

    @admin.action(description="Clear the needs-attention flag", permissions=["change"])
    def clear_attention(self, request: SignedInRequest, queryset: QuerySet[Incident]) -> None:
        for incident in queryset:
            incident_clear_attention(incident=incident, by=request.user)

    @admin.action(description="Re-apply the tenant's current policy", permissions=["change"])
    def reapply_policy(self, request: SignedInRequest, queryset: QuerySet[Incident]) -> None:
        for incident in queryset:
            incident_reapply_policy(incident=incident, by=request.user)
        self.message_user(request, f"Policy re-applied to {queryset.count()} incident(s).")

    def has_propose_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("incidents.add_responseaction")

    def has_authorize_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("incidents.add_authorization")

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/propose/", wrap(self.propose_view), name="incidents_incident_propose"),
            path("<int:pk>/propose-many/", wrap(self.bulk_view), name="incidents_incident_propose_many"),
            path("<int:pk>/authorize/", wrap(self.authorize_view), name="incidents_incident_authorize"),
            path("<int:pk>/notify/", wrap(self.notify_view), name="incidents_incident_notify"),
            path(
                "<int:pk>/apply-template/",
                wrap(self.apply_template_view),
                name="incidents_incident_apply_template",
            ),
            *super().get_urls(),
        ]

    def _done(self, incident: Incident) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:incidents_incident_change", args=[incident.pk]))

    def propose_view(self, request: SignedInRequest, pk: int) -> HttpResponse:
        if not self.has_propose_permission(request):
            raise PermissionDenied
        incident = get_object_or_404(Incident.objects.select_related("tenant"), pk=pk)
        form = ProposeActionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                action = action_propose(incident=incident, by=request.user, **form.cleaned_data)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(request, f"{action}: {action.decision_reason}")
                return self._done(incident)
        title = f"Propose a response action on {incident}"
        return action_form_page(self.admin_site, request, incident, form, title)

    def bulk_view(self, request: SignedInRequest, pk: int) -> HttpResponse:
        return bulk_propose_view(self.admin_site, request, pk)

    def apply_template_view(self, request: SignedInRequest, pk: int) -> HttpResponse:
        return apply_template_view(self.admin_site, request, pk)

    def authorize_view(self, request: SignedInRequest, pk: int) -> HttpResponse:
        if not self.has_authorize_permission(request):
            raise PermissionDenied
        refused = admin_step_up(request)  # recording a written authorization decides (tenants.deciding)
        if refused is not None:
            return refused
        incident = get_object_or_404(Incident.objects.select_related("tenant"), pk=pk)
        form = RecordAuthorizationForm(request.POST or None, incident=incident)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                authorization_record(
                    incident=incident,
                    actions=list(data["actions"]),
                    decision=data["decision"],
                    channel=Channel.ANALYST_RECORDED,
                    text_shown=authorization_text(incident, data["actions"]),
                    contact=data["contact"],
                    recorded_by=request.user,
                    evidence=data["evidence"],
                    statement=data["statement"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(request, "Written decision recorded.")
                return self._done(incident)
        title = f"Record a written authorization for {incident}"
        return action_form_page(self.admin_site, request, incident, form, title)


@admin.register(ActionType)
class ActionTypeAdmin(admin.ModelAdmin[ActionType]):
    list_display = ["code", "name", "category", "revert"]
    list_filter = ["category"]
    list_select_related = ["revert"]
    search_fields = ["code", "name"]

    def has_delete_permission(self, request: HttpRequest, obj: ActionType | None = None) -> bool:
        return False


@admin.register(Authorization)
class AuthorizationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Authorization]):
    list_display = ["id", "incident", "decision", "channel", "contact", "user", "recorded_by", "at"]
    list_filter = ["decision", "channel"]
    list_select_related = ["incident", "contact", "user", "recorded_by"]


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[TimelineEvent]):
    list_display = ["at", "incident", "kind", "actor_label", "channel", "summary"]
    list_filter = ["kind", "channel"]
    list_select_related = ["incident"]
    search_fields = ["summary", "incident__title"]


# Registered from their own module: the connector admin keeps the secret write-only.
from incidents import admin_connectors  # noqa: E402, F401
