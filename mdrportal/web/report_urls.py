"""URL patterns of the managers' reports: the page, its CSV and PDF, an incident's record as a PDF, and the
monthly email's recipients."""

from __future__ import annotations

from django.urls import path

from mdrportal.web import report_recipient_views as recipients, report_views as views

app_name = "reports"

urlpatterns = [
    path("reports/", views.report_page, name="page"),
    path("reports/incidents.csv", views.report_csv, name="csv"),
    path("reports/report.pdf", views.report_as_pdf, name="pdf"),
    path("reports/recipients/", recipients.recipients_page, name="recipients"),
    path("reports/recipients/add/", recipients.recipient_add, name="recipient_add"),
    path("reports/recipients/monthly/", recipients.monthly_switch, name="monthly_switch"),
    path("reports/recipients/<int:pk>/remove/", recipients.recipient_remove, name="recipient_remove"),
    path("reports/recipients/<int:pk>/resend/", recipients.recipient_resend, name="recipient_resend"),
    path("incidents/<int:pk>/record.pdf", views.incident_as_pdf, name="incident_pdf"),
]
