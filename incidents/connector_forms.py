"""The admin form for a tenant's connector: the secret is write-only."""

from __future__ import annotations

from typing import Any

from django import forms

from incidents.connector_models import ConnectorConfig
from incidents.connector_settings import connector_missing_fields, connector_url_problem


class ConnectorConfigForm(forms.ModelForm[ConnectorConfig]):
    url = forms.URLField(
        required=False,
        assume_scheme="https",
        help_text=ConnectorConfig._meta.get_field("url").help_text,
    )
    secret = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Sophos Central: the API client secret. Webhook: the HMAC signing key. "
        "Never shown again; leave empty to keep the stored one.",
    )

    class Meta:
        model = ConnectorConfig
        fields = ["tenant", "kind", "url", "client_id", "external_tenant_id", "options"]

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        missing = connector_missing_fields(
            kind=data.get("kind") or "",
            url=data.get("url") or "",
            client_id=data.get("client_id") or "",
            external_tenant_id=data.get("external_tenant_id") or "",
            has_secret=bool(data.get("secret") or self.instance.secret),
        )
        for field, message in missing.items():
            self.add_error(field, message)
        problem = connector_url_problem(kind=data.get("kind") or "", url=data.get("url") or "")
        if problem and "url" not in missing:
            self.add_error("url", problem)
        return data

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "url": data.get("url") or "",
            "client_id": data.get("client_id") or "",
            "external_tenant_id": data.get("external_tenant_id") or "",
            "secret": data.get("secret") or None,
            "options": data.get("options") or {},
        }
