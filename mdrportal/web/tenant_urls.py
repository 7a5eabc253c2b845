"""URL patterns of the customer pages about a tenant: the customer chooser, settings and contacts."""

from __future__ import annotations

from django.urls import path

from mdrportal.web import contact_views, partner_views, protected_views, tenant_views as views

app_name = "tenants"

urlpatterns = [
    path("tenant/", views.choose_tenant, name="choose"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/performers/", views.performers_page, name="performers"),
    path("settings/protected/", protected_views.protected_add, name="protected_add"),
    path("settings/protected/<int:pk>/remove/", protected_views.protected_remove, name="protected_remove"),
    path("settings/inherit/<slug:field>/", partner_views.setting_inherit, name="setting_inherit"),
    path("settings/protected/opt-out/", partner_views.protected_opt_out, name="protected_opt_out"),
    path("settings/partner/", views.delegation_page, name="delegation"),
    path("contacts/", contact_views.contacts_page, name="contacts"),
    path("contacts/add/", contact_views.contact_add, name="contact_add"),
    path("contacts/<int:pk>/edit/", contact_views.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/active/", contact_views.contact_active, name="contact_active"),
    path("contacts/<int:pk>/move/", contact_views.contact_move, name="contact_move"),
    path("contacts/<int:pk>/test-call/", contact_views.contact_test_call, name="contact_test_call"),
]
