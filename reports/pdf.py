"""PDFs from the project's HTML templates, by WeasyPrint (Pango underneath: Debian's libpango-1.0-0 and
libpangoft2-1.0-0, installed by .ci/run and the Dockerfile). A document fetches nothing: every style and
chart is inline, and a URL in one (an image an attacker wrote into a title) is refused, not requested."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from weasyprint import HTML

from reports.figures import DURATIONS
from reports.selectors import Report
from reports.trend import trend_svg


class NothingFetched(ValueError):
    """A PDF asked for an outside resource; none is ever loaded."""


def _fetch_nothing(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
    raise NothingFetched(f"PDFs load no outside resource ({url[:80]})")


def pdf_render(*, template: str, context: dict[str, Any]) -> bytes:
    """The template rendered to HTML, then laid out as a PDF."""
    # Documents say UTC: they leave the portal and are read beside other tenants' and providers' records.
    with timezone.override(UTC):
        html = render_to_string(template, context)
    pdf: bytes = HTML(string=html, url_fetcher=_fetch_nothing).write_pdf()
    return pdf


def report_pdf(*, report: Report, scope: str) -> bytes:
    """The report's figures, with their definitions and the weekly trend, as the page shows them."""
    context = {
        "report": report,
        "trend": trend_svg(report.weeks),
        "definitions": DURATIONS,
        "scope": scope,
        "made_at": timezone.now(),
    }
    return pdf_render(template="pdf/report.html", context=context)
