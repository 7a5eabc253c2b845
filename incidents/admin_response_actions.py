"""The response actions in the Django admin: each with its attempts, proposing its revert, canceling one that
waits or is queued; and the form page every analyst's action about an incident uses."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html_join

from incidents.actions import action_cancel, action_propose_revert
from incidents.customer_tasks import TASK_PERFORMERS, UNDONE_TASK_STATUSES
from incidents.forms import CancelActionForm, RetryActionForm
from incidents.models import ACTION_TRANSITIONS, ActionAttempt, ActionStatus, Incident, ResponseAction
from incidents.policy import PolicySnapshot
from incidents.retry import RETRYABLE, action_retry
from mdrportal.core.admin_readonly import ReadOnlyAdminMixin, ReadOnlyInline
from mdrportal.core.users import SignedInRequest


def action_row_buttons(action: ResponseAction) -> str:
    """The links of an action's row on the incident's page: cancel what waits or is queued, retry what
    failed, take over a task nobody has done. Links to their own pages, since the row sits inside the
    incident's form."""
    links = []
    if action.performer in TASK_PERFORMERS and action.status in UNDONE_TASK_STATUSES:
        links.append(
            ("MDR Ops will do it", reverse("admin:incidents_customertask_take_over", args=[action.pk]))
        )
    if ActionStatus.CANCELED in ACTION_TRANSITIONS[action.status]:
        links.append(("Cancel", reverse("admin:incidents_responseaction_cancel", args=[action.pk])))
    if action.status in RETRYABLE:
        links.append(("Retry", reverse("admin:incidents_responseaction_retry", args=[action.pk])))
    links.append(("Link observable", f"{reverse('admin:incidents_actionobservable_add')}?action={action.pk}"))
    return format_html_join(" ", '<a class="button" href="{}">{}</a>', ((url, label) for label, url in links))


def action_form_page(
    site: admin.AdminSite,
    request: HttpRequest,
    incident: Incident,
    form: forms.BaseForm,
    title: str,
    **extra: object,
) -> TemplateResponse:
    """An analyst's form about one incident (propose, authorize, cancel), with the mode in force."""
    context = {
        **site.each_context(request),
        "opts": Incident._meta,
        "incident": incident,
        "mode_in_force": PolicySnapshot.read(incident).mode_label,
        "form": form,
        "title": title,
        **extra,
    }
    return TemplateResponse(request, "admin/incidents/incident/action_form.html", context)


class ActionAttemptInline(ReadOnlyInline):
    model = ActionAttempt
    fields = readonly_fields = ("number", "connector", "started_at", "finished_at", "outcome", "message")
    ordering = ["number"]


@admin.register(ResponseAction)
class ResponseActionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ResponseAction]):
    list_display = ["id", "incident", "action_type", "target", "status", "performer", "basis", "updated_at"]
    list_filter = ["status", "performer", "basis", "action_type__category"]
    list_select_related = ["incident", "action_type"]
    search_fields = ["target", "incident__title"]
    inlines = [ActionAttemptInline]
    actions = ["propose_revert", "cancel_action"]

    @admin.action(
        description="Propose the revert (release, re-enable, unblock, restore)", permissions=["propose"]
    )
    def propose_revert(self, request: SignedInRequest, queryset: QuerySet[ResponseAction]) -> None:
        for action in queryset.select_related("action_type__revert", "incident"):
            try:
                revert = action_propose_revert(action=action, by=request.user)
            except ValidationError as error:
                self.message_user(request, f"#{action.pk}: {' '.join(error.messages)}", messages.WARNING)
            else:
                self.message_user(
                    request, f"#{action.pk}: proposed {revert} (#{revert.pk}): {revert.decision_reason}"
                )

    @admin.action(description="Cancel a waiting or queued action (with a reason)", permissions=["cancel"])
    def cancel_action(self, request: HttpRequest, queryset: QuerySet[ResponseAction]) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one action.", messages.WARNING)
            return None
        return HttpResponseRedirect(
            reverse("admin:incidents_responseaction_cancel", args=[queryset.get().pk])
        )

    def cancel_view(self, request: SignedInRequest, pk: int) -> HttpResponse:
        if not self.has_cancel_permission(request):
            raise PermissionDenied
        action = get_object_or_404(
            ResponseAction.objects.select_related("incident__tenant", "action_type"), pk=pk
        )
        form = CancelActionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                action_cancel(action=action, by=request.user, reason=form.cleaned_data["reason"])
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(request, f"{action} was canceled.")
                return HttpResponseRedirect(
                    reverse("admin:incidents_incident_change", args=[action.incident_id])
                )
        title = f"Cancel {action} (#{action.pk}, {action.get_status_display().lower()})"
        return action_form_page(self.admin_site, request, action.incident, form, title)

    def retry_view(self, request: SignedInRequest, pk: int) -> HttpResponse:
        if not self.has_propose_permission(request):
            raise PermissionDenied
        action = get_object_or_404(
            ResponseAction.objects.select_related("incident__tenant", "action_type"), pk=pk
        )
        form = RetryActionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                again = action_retry(action=action, by=request.user)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(request, f"{again} proposed again (#{again.pk}): {again.decision_reason}")
                return HttpResponseRedirect(
                    reverse("admin:incidents_incident_change", args=[action.incident_id])
                )
        title = f"Retry {action} (#{action.pk}, {action.get_status_display().lower()}): propose it again"
        return action_form_page(self.admin_site, request, action.incident, form, title)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/cancel/", wrap(self.cancel_view), name="incidents_responseaction_cancel"),
            path("<int:pk>/retry/", wrap(self.retry_view), name="incidents_responseaction_retry"),
            *super().get_urls(),
        ]

    def has_propose_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("incidents.add_responseaction")

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("incidents.change_responseaction")
