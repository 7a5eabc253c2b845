"""The managers' report as JSON: the same filters and figures as the reports page (reports.selectors)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reports.forms import ReportFilterForm
from reports.selectors import Report, report_read
from tenants.selectors import tenants_for_user


def report_json(report: Report) -> dict[str, Any]:
    return {
        "period": {"start": report.period.start, "end": report.period.end},
        "tenant": report.tenant.pk if report.tenant else None,
        "severity": report.severity or None,
        "incidents": report.incidents,
        "by_severity": dict(report.by_severity),
        "by_status": dict(report.by_status),
        "by_outcome": dict(report.by_outcome),
        "durations": {
            figure.duration.key: {
                "definition": figure.duration.definition,
                "incidents": figure.count,
                "median_seconds": figure.median,
                "p90_seconds": figure.p90,
            }
            for figure in report.durations
        },
        "calls": report.calls,
        "acknowledgments_by_channel": dict(report.acknowledgments_by_channel),
        "actions_by_basis": [
            {"basis": basis, "result": result, "count": n} for basis, result, n in report.actions_by_basis
        ],
        "actions_by_performer": [
            {"performer": who, "result": result, "count": n} for who, result, n in report.actions_by_performer
        ],
        "fallbacks": [asdict(f) for f in report.fallbacks],
        "weeks": [
            {"start": w.start, "incidents": w.incidents, "median_acknowledge_seconds": w.median_acknowledge}
            for w in report.weeks
        ],
    }


class ReportView(APIView):
    @extend_schema(
        summary="The managers' report over the incidents opened in a period (every user, their tenants)",
        parameters=[
            OpenApiParameter("period", str, enum=["this_month", "last_month", "range"]),
            OpenApiParameter("start", OpenApiTypes.DATE, description="First day of a range (UTC)."),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Last day of a range (UTC)."),
            OpenApiParameter("tenant", int, description="One of the caller's tenants; all of them without."),
            OpenApiParameter("severity", str, enum=["critical", "high", "medium", "low", "info"]),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        form = ReportFilterForm(request.query_params or {"period": "this_month"}, user=request.user)
        if not form.is_valid():
            raise serializers.ValidationError({k: [str(m) for m in v] for k, v in form.errors.items()})
        return Response(report_json(report_read(tenants=tenants_for_user(request.user), **form.filters())))
