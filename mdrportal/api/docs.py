"""The API's documentation page: Swagger UI, served by the site itself."""

from __future__ import annotations

from drf_spectacular.views import SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    """A page and its script, nothing else: an OPTIONS request gets a 405, not the renderer's missing template."""

    http_method_names = ["get", "head"]
