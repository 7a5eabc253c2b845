"""The site's areas, each under its own prefix; the customer and manager pages stand at the root."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("mdrportal.api.urls")),
    path("twilio/", include("escalation.phone.urls")),
    path("dev/phone/", include("escalation.phone.simulated_urls")),
    path("l/", include("escalation.links.urls")),
    path("", include("mdrportal.web.urls")),
]
