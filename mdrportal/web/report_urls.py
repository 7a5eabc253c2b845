"""URL patterns of the managers' reports: the page, its CSV and PDF, and an incident's record as a PDF."""

from __future__ import annotations

from django.urls import path

from mdrportal.web import report_views as views

app_name = "reports"

urlpatterns = [
    path("reports/", views.report_page, name="page"),
    path("reports/incidents.csv", views.report_csv, name="csv"),
    path("reports/report.pdf", views.report_as_pdf, name="pdf"),
    path("incidents/<int:pk>/record.pdf", views.incident_as_pdf, name="incident_pdf"),
]
