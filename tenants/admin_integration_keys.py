"""Integration keys in the Django admin: an MDR lead with the permission to add them creates one and sees
its secret once; revocation is an action; nothing of a key is edited after it is made."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from mdrportal.core.users import signed_in_user
from tenants.integration_key_models import IntegrationKey
from tenants.integration_key_services import (
    integration_key_create,
    integration_key_revoke,
    integration_key_scope_check,
)

SHOWN = ("name", "public_id", "scope", "created_by", "created_at", "last_used_at", "revoked_at", "revoked_by")


class IntegrationKeyForm(forms.ModelForm[IntegrationKey]):
    class Meta:
        model = IntegrationKey
        fields = ["name", "all_tenants", "tenants"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what ModelForm.clean returns
        if "tenants" not in self.fields:
            return data  # a key's page after creation: nothing is edited
        try:
            integration_key_scope_check(
                all_tenants=data.get("all_tenants", False), tenants=data.get("tenants") or []
            )
        except ValidationError as error:
            self.add_error(None, error)
        return data


@admin.register(IntegrationKey)
class IntegrationKeyAdmin(admin.ModelAdmin[IntegrationKey]):
    form = IntegrationKeyForm
    list_display = ["name", "public_id", "scope", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_select_related = ["created_by"]
    search_fields = ["name", "prefix"]
    filter_horizontal = ["tenants"]
    actions = ["revoke"]

    @admin.display(description="key")
    def public_id(self, key: IntegrationKey) -> str:
        return f"{key.public_id}_…"

    @admin.display(description="acts for")
    def scope(self, key: IntegrationKey) -> str:
        if key.all_tenants:
            return "all tenants"
        return ", ".join(t.name for t in key.tenants.all())

    def get_queryset(self, request: HttpRequest) -> QuerySet[IntegrationKey]:
        return super().get_queryset(request).prefetch_related("tenants")

    def get_fields(self, request: HttpRequest, obj: IntegrationKey | None = None) -> tuple[str, ...]:
        return ("name", "all_tenants", "tenants") if obj is None else SHOWN

    def get_readonly_fields(self, request: HttpRequest, obj: IntegrationKey | None = None) -> tuple[str, ...]:
        # A key is made once: another scope or name is another key (the old one revoked).
        return () if obj is None else SHOWN

    def has_delete_permission(self, request: HttpRequest, obj: IntegrationKey | None = None) -> bool:
        return False  # the incidents a key opened name it: revoke it instead

    def save_model(
        self, request: HttpRequest, obj: IntegrationKey, form: IntegrationKeyForm, change: bool
    ) -> None:
        if change:
            return
        created, presented = integration_key_create(
            name=form.cleaned_data["name"],
            tenants=form.cleaned_data["tenants"],
            all_tenants=form.cleaned_data["all_tenants"],
            by=signed_in_user(request),
        )
        obj.pk, obj._state.adding, obj._state.db = created.pk, False, created._state.db
        obj.refresh_from_db()
        obj.presented_once = presented  # kept in memory for response_add

    def save_related(
        self, request: HttpRequest, form: IntegrationKeyForm, formsets: list[object], change: bool
    ) -> None:
        """The service set the tenants; nothing is edited afterwards."""

    def response_add(
        self, request: HttpRequest, obj: IntegrationKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        # Shown in this response only: no redirect, so the key never passes through a message, the session
        # or the database.
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{obj} created",
            "key": obj,
            "scope": self.scope(obj),
            "presented": obj.presented_once,
        }
        response: HttpResponse = TemplateResponse(
            request, "admin/tenants/integrationkey/created.html", context
        )
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[IntegrationKey]) -> None:
        by = signed_in_user(request)
        revoked = [key for key in queryset if integration_key_revoke(key=key, by=by)]
        self.message_user(request, f"{len(revoked)} key(s) revoked.", messages.SUCCESS)
