"""The REST API under /api/: version 1 under /api/v1/, its OpenAPI schema and its documentation."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from mdrportal.api import integration_key_schema  # noqa: F401 - registers the key's security scheme
from mdrportal.api.account import ProfileView
from mdrportal.api.action_retry import ActionRetryView
from mdrportal.api.auth import TokenListView, TokenRevokeView, TokenView
from mdrportal.api.bulk import IncidentBulkProposeView
from mdrportal.api.case_file import IncidentNotesView, IncidentObservablesView
from mdrportal.api.case_templates import CaseTemplateListView, IncidentApplyTemplateView
from mdrportal.api.console import PartnerCustomersView, PartnerIncidentsView, PartnerTasksView
from mdrportal.api.docs import ApiDocsView
from mdrportal.api.escalation import IncidentAcknowledgeView, IncidentEscalateView
from mdrportal.api.incidents import (
    ActionAuthorizeView,
    ActionCancelView,
    ActionDeclineView,
    ActionTypeListView,
    ActionView,
    IncidentActionsView,
    IncidentTimelineView,
    IncidentViewSet,
)
from mdrportal.api.partner_contacts import PartnerContactAvailabilityView, PartnerContactsView
from mdrportal.api.partner_protected import (
    PartnerProtectedTargetView,
    PartnerProtectedView,
    TenantPartnerListView,
)
from mdrportal.api.partner_report_recipients import (
    PartnerReportRecipientResendView,
    PartnerReportRecipientsView,
    PartnerReportRecipientView,
)
from mdrportal.api.partners import PartnerDefaultsView
from mdrportal.api.protected import ProtectedTargetView, TenantProtectedView
from mdrportal.api.queue import IncidentAssignView
from mdrportal.api.report_recipients import (
    ReportRecipientResendView,
    ReportRecipientView,
    TenantMonthlyReportView,
    TenantReportRecipientsView,
)
from mdrportal.api.reports import ReportView
from mdrportal.api.tasks import TaskListView, TaskView
from mdrportal.api.tenant_settings import TenantConnectorView, TenantPerformersView
from mdrportal.api.tenants import (
    ContactView,
    TenantContactsView,
    TenantDelegationView,
    TenantUsersView,
    TenantViewSet,
)
from mdrportal.api.thread import IncidentMessagesView

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.http import HttpResponseBase
    from rest_framework.decorators import ViewSetAction  # the stubs' own type: not in DRF itself

    ViewSetActions: TypeAlias = dict[str, str | ViewSetAction[Callable[..., HttpResponseBase]]]

# The two viewsets' methods: the collection lists and creates, a member is read and changed in part. Typed as
# ViewSetMixin.as_view takes them (a dict is invariant: a dict[str, str] is not one).
COLLECTION: ViewSetActions = {"get": "list", "post": "create"}
MEMBER: ViewSetActions = {"get": "retrieve", "patch": "partial_update"}

v1 = [
    path("auth/token/", TokenView.as_view(), name="api-token"),
    path("auth/tokens/", TokenListView.as_view(), name="api-tokens"),
    path("auth/tokens/<int:pk>/", TokenRevokeView.as_view(), name="api-token-revoke"),
    path("auth/profile/", ProfileView.as_view(), name="api-profile"),
    path("tenants/", TenantViewSet.as_view(COLLECTION), name="api-tenants"),
    path("tenants/<int:pk>/", TenantViewSet.as_view(MEMBER), name="api-tenant"),
    path("tenants/<int:tenant_id>/contacts/", TenantContactsView.as_view(), name="api-tenant-contacts"),
    path("tenants/<int:tenant_id>/performers/", TenantPerformersView.as_view(), name="api-tenant-performers"),
    path("tenants/<int:tenant_id>/protected/", TenantProtectedView.as_view(), name="api-tenant-protected"),
    path(
        "tenants/<int:tenant_id>/protected/<int:pk>/",
        ProtectedTargetView.as_view(),
        name="api-tenant-protected-target",
    ),
    path("tenants/<int:tenant_id>/users/", TenantUsersView.as_view(), name="api-tenant-users"),
    path("tenants/<int:tenant_id>/delegation/", TenantDelegationView.as_view(), name="api-tenant-delegation"),
    path("tenants/<int:tenant_id>/connector/", TenantConnectorView.as_view(), name="api-tenant-connector"),
    path(
        "tenants/<int:tenant_id>/report-recipients/",
        TenantReportRecipientsView.as_view(),
        name="api-tenant-report-recipients",
    ),
    path(
        "tenants/<int:tenant_id>/report-recipients/<int:pk>/",
        ReportRecipientView.as_view(),
        name="api-tenant-report-recipient",
    ),
    path(
        "tenants/<int:tenant_id>/report-recipients/<int:pk>/resend/",
        ReportRecipientResendView.as_view(),
        name="api-tenant-report-recipient-resend",
    ),
    path(
        "tenants/<int:tenant_id>/monthly-report/",
        TenantMonthlyReportView.as_view(),
        name="api-tenant-monthly-report",
    ),
    path("contacts/<int:pk>/", ContactView.as_view(), name="api-contact"),
    path("reports/", ReportView.as_view(), name="api-reports"),
    path("partners/<slug:slug>/defaults/", PartnerDefaultsView.as_view(), name="api-partner-defaults"),
    path("partners/<slug:slug>/contacts/", PartnerContactsView.as_view(), name="api-partner-contacts"),
    path(
        "partners/<slug:slug>/contacts/<int:pk>/availability/",
        PartnerContactAvailabilityView.as_view(),
        name="api-partner-contact-availability",
    ),
    path(
        "partners/<slug:slug>/report-recipients/",
        PartnerReportRecipientsView.as_view(),
        name="api-partner-report-recipients",
    ),
    path(
        "partners/<slug:slug>/report-recipients/<int:pk>/",
        PartnerReportRecipientView.as_view(),
        name="api-partner-report-recipient",
    ),
    path(
        "partners/<slug:slug>/report-recipients/<int:pk>/resend/",
        PartnerReportRecipientResendView.as_view(),
        name="api-partner-report-recipient-resend",
    ),
    path("partners/<slug:slug>/customers/", PartnerCustomersView.as_view(), name="api-partner-customers"),
    path("partners/<slug:slug>/incidents/", PartnerIncidentsView.as_view(), name="api-partner-incidents"),
    path("partners/<slug:slug>/tasks/", PartnerTasksView.as_view(), name="api-partner-tasks"),
    path(
        "partners/<slug:slug>/defaults/protected/",
        PartnerProtectedView.as_view(),
        name="api-partner-protected",
    ),
    path(
        "partners/<slug:slug>/defaults/protected/<int:pk>/",
        PartnerProtectedTargetView.as_view(),
        name="api-partner-protected-target",
    ),
    path(
        "tenants/<int:tenant_id>/protected/partner-list/",
        TenantPartnerListView.as_view(),
        name="api-tenant-protected-partner-list",
    ),
    path("action-types/", ActionTypeListView.as_view(), name="api-action-types"),
    path("case-templates/", CaseTemplateListView.as_view(), name="api-case-templates"),
    path("incidents/", IncidentViewSet.as_view(COLLECTION), name="api-incidents"),
    path("incidents/<int:pk>/", IncidentViewSet.as_view(MEMBER), name="api-incident"),
    path("incidents/<int:incident_id>/actions/", IncidentActionsView.as_view(), name="api-incident-actions"),
    path(
        "incidents/<int:incident_id>/timeline/", IncidentTimelineView.as_view(), name="api-incident-timeline"
    ),
    path("incidents/<int:incident_id>/notes/", IncidentNotesView.as_view(), name="api-incident-notes"),
    path(
        "incidents/<int:incident_id>/observables/",
        IncidentObservablesView.as_view(),
        name="api-incident-observables",
    ),
    path(
        "incidents/<int:incident_id>/actions/bulk/",
        IncidentBulkProposeView.as_view(),
        name="api-incident-actions-bulk",
    ),
    path(
        "incidents/<int:incident_id>/apply-template/",
        IncidentApplyTemplateView.as_view(),
        name="api-incident-apply-template",
    ),
    path(
        "incidents/<int:incident_id>/messages/", IncidentMessagesView.as_view(), name="api-incident-messages"
    ),
    path("incidents/<int:incident_id>/assign/", IncidentAssignView.as_view(), name="api-incident-assign"),
    path(
        "incidents/<int:incident_id>/escalate/", IncidentEscalateView.as_view(), name="api-incident-escalate"
    ),
    path(
        "incidents/<int:incident_id>/acknowledge/",
        IncidentAcknowledgeView.as_view(),
        name="api-incident-acknowledge",
    ),
    path("actions/<int:pk>/", ActionView.as_view(), name="api-action"),
    path("actions/<int:pk>/authorize/", ActionAuthorizeView.as_view(), name="api-action-authorize"),
    path("actions/<int:pk>/decline/", ActionDeclineView.as_view(), name="api-action-decline"),
    path("actions/<int:pk>/cancel/", ActionCancelView.as_view(), name="api-action-cancel"),
    path("actions/<int:pk>/retry/", ActionRetryView.as_view(), name="api-action-retry"),
    path("tasks/", TaskListView.as_view(), name="api-tasks"),
    path("tasks/<int:pk>/", TaskView.as_view(), name="api-task"),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its script as a file and the sidecar serves Swagger UI from here: the site's
    # Content-Security-Policy (script-src 'self') holds on the docs page too.
    path("docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
]
