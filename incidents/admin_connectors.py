"""Admin for tenants' connectors: written through the service, the secret never displayed."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_protect

from incidents.connector_forms import ConnectorConfigForm
from incidents.connector_models import ConnectorConfig
from incidents.connector_settings import connector_configure
from mdrportal.core.users import signed_in_user
from mdrportal.web.deciding import admin_step_up


@admin.register(ConnectorConfig)
class ConnectorConfigAdmin(admin.ModelAdmin[ConnectorConfig]):
    form = ConnectorConfigForm
    list_display = ["tenant", "kind", "url", "updated_at"]
    list_filter = ["kind"]
    list_select_related = ["tenant"]
    search_fields = ["tenant__name"]

    @method_decorator(csrf_protect)
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # Without the transaction the admin opens around a POST by default: validating the form resolves
        # the URL's host name, a network call. connector_configure makes the save itself atomic.
        refused = admin_step_up(request)  # a connector decides (tenants.deciding)
        if refused is not None:
            return refused
        view = self._changeform_view  # type: ignore[attr-defined]  # ModelAdmin's, not in django-stubs
        response: HttpResponse = view(request, object_id, form_url, extra_context)
        return response

    def get_readonly_fields(self, request: HttpRequest, obj: ConnectorConfig | None = None) -> list[str]:
        return ["tenant", "allowed_networks"] if obj else ["allowed_networks"]

    @admin.display(description="Private networks allowed")
    def allowed_networks(self, obj: ConnectorConfig | None = None) -> str:
        networks = settings.CONNECTOR_ALLOWED_NETWORKS
        if not networks:
            return "None: connector URLs reach public addresses only (CONNECTOR_ALLOWED_NETWORKS is empty)."
        return f"{', '.join(networks)}, besides public addresses (CONNECTOR_ALLOWED_NETWORKS)."

    def save_model(
        self, request: HttpRequest, obj: ConnectorConfig, form: ConnectorConfigForm, change: bool
    ) -> None:
        tenant = obj.tenant
        saved = connector_configure(tenant=tenant, by=signed_in_user(request), **form.service_kwargs())
        obj.pk, obj._state.adding, obj._state.db = saved.pk, False, saved._state.db
