"""The customer and manager pages: sign-in, the home page, tenants' settings and contacts, incidents."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import include, path

from mdrportal.web import console_views
from mdrportal.web.account_views import account
from mdrportal.web.incident_views import home
from mdrportal.web.login_guard import GuardedAuthenticationForm
from mdrportal.web.partner_contacts_views import partner_contact_availability_page, partner_contacts_page
from mdrportal.web.partner_defaults_views import (
    partner_defaults_page,
    partner_protected_add_page,
    partner_protected_remove_page,
)
from mdrportal.web.partner_report_recipients_views import (
    partner_report_recipient_add_page,
    partner_report_recipient_remove_page,
    partner_report_recipient_resend_page,
    partner_report_recipients_page,
)
from mdrportal.web.second_factor_views import second_factor
from mdrportal.web.token_views import api_token_revoke_view, api_tokens

urlpatterns = [
    path("", home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=GuardedAuthenticationForm, redirect_authenticated_user=True, next_page="home"
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
    path("account/", account, name="account"),
    path("account/second-factor/", second_factor, name="second_factor"),
    path("account/api-tokens/", api_tokens, name="api_tokens"),
    path("account/api-tokens/<int:pk>/revoke/", api_token_revoke_view, name="api_token_revoke"),
    path("partners/", console_views.partner_consoles, name="partner_consoles"),
    path("partners/<slug:slug>/", console_views.partner_console, name="partner_console"),
    path(
        "partners/<slug:slug>/incidents/",
        console_views.partner_console_incidents,
        name="partner_console_incidents",
    ),
    path("partners/<slug:slug>/tasks/", console_views.partner_console_tasks, name="partner_console_tasks"),
    path("partners/<slug:slug>/defaults/", partner_defaults_page, name="partner_defaults"),
    path("partners/<slug:slug>/contacts/", partner_contacts_page, name="partner_contacts"),
    path(
        "partners/<slug:slug>/contacts/<int:pk>/availability/",
        partner_contact_availability_page,
        name="partner_contact_availability",
    ),
    path(
        "partners/<slug:slug>/defaults/protected/",
        partner_protected_add_page,
        name="partner_protected_add",
    ),
    path(
        "partners/<slug:slug>/defaults/protected/<int:pk>/remove/",
        partner_protected_remove_page,
        name="partner_protected_remove",
    ),
    path(
        "partners/<slug:slug>/report-recipients/",
        partner_report_recipients_page,
        name="partner_report_recipients",
    ),
    path(
        "partners/<slug:slug>/report-recipients/add/",
        partner_report_recipient_add_page,
        name="partner_report_recipient_add",
    ),
    path(
        "partners/<slug:slug>/report-recipients/<int:pk>/remove/",
        partner_report_recipient_remove_page,
        name="partner_report_recipient_remove",
    ),
    path(
        "partners/<slug:slug>/report-recipients/<int:pk>/resend/",
        partner_report_recipient_resend_page,
        name="partner_report_recipient_resend",
    ),
    path("", include("mdrportal.web.tenant_urls")),
    path("", include("mdrportal.web.incident_urls")),
    path("", include("mdrportal.web.report_urls")),
]
