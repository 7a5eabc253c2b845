"""Managers' report pages: the figures across incidents of the user's tenants, and their CSV.

Customers read their tenant, partner users each customer they serve or all of them, MDR staff every tenant
or one: the incidents are those of reports.selectors.report_incidents, among tenants_for_user.
"""

from __future__ import annotations

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render

from incidents.selectors import incidents_for_user
from mdrportal.core.users import SignedInRequest
from mdrportal.web import access
from mdrportal.web.access import portal_page
from reports.csv_export import csv_lines
from reports.figures import DURATIONS, OUTCOMES
from reports.forms import ReportFilterForm
from reports.pdf import pdf_render, report_pdf
from reports.records import incident_record
from reports.selectors import report_incidents, report_read
from reports.trend import trend_svg
from tenants.selectors import tenants_for_user


def _filters(request: SignedInRequest) -> ReportFilterForm:
    current, _several = access.current_tenant(request)
    if current is not None:
        # The navigation reads the customer the user works for; the report may still cover several.
        access.enter(request, current)
    return ReportFilterForm(request.GET or None, user=request.user)


@portal_page
def report_page(request: SignedInRequest) -> HttpResponse:
    form = _filters(request)
    if form.is_bound and not form.is_valid():
        return render(request, "pages/report.html", {"section": "reports", "form": form}, status=400)
    if not form.is_bound:
        form = ReportFilterForm({"period": "this_month"}, user=request.user)
        form.is_valid()
    report = report_read(tenants=tenants_for_user(request.user), **form.filters())
    return render(
        request,
        "pages/report.html",
        {
            "section": "reports",
            "form": form,
            "report": report,
            "trend": trend_svg(report.weeks),
            "definitions": DURATIONS,
            "outcomes": OUTCOMES,
            "query": request.GET.urlencode(),
        },
    )


@portal_page
def report_csv(request: SignedInRequest) -> HttpResponse | StreamingHttpResponse:
    form = ReportFilterForm(request.GET or {"period": "this_month"}, user=request.user)
    if not form.is_valid():
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain; charset=utf-8")
    filters = form.filters()
    incidents = report_incidents(tenants=tenants_for_user(request.user), **filters)
    response = StreamingHttpResponse(csv_lines(incidents), content_type="text/csv; charset=utf-8")
    name = f"incidents-{filters['period'].start:%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _pdf(content: bytes, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@portal_page
def report_as_pdf(request: SignedInRequest) -> HttpResponse:
    form = ReportFilterForm(request.GET or {"period": "this_month"}, user=request.user)
    if not form.is_valid():
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain; charset=utf-8")
    report = report_read(tenants=tenants_for_user(request.user), **form.filters())
    content = report_pdf(report=report, scope="every customer of this account")
    return _pdf(content, f"report-{report.period.start:%Y-%m}.pdf")


@portal_page
def incident_as_pdf(request: SignedInRequest, pk: int) -> HttpResponse:
    """The incident's full record: every event, the authorizations with their statements, the fallback's proof."""
    incident = get_object_or_404(incidents_for_user(request.user), pk=pk)
    access.enter(request, incident.tenant)
    record = incident_record(incident)
    return _pdf(pdf_render(template="pdf/incident.html", context=record), f"incident-{incident.pk}.pdf")
