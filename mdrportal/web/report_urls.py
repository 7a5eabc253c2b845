"""URL patterns of the managers' reports: the page and its CSV."""

from __future__ import annotations

from django.urls import path

from mdrportal.web import report_views as views

app_name = "reports"

urlpatterns = [
    path("reports/", views.report_page, name="page"),
    path("reports/incidents.csv", views.report_csv, name="csv"),
]
