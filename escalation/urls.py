"""Twilio webhooks, the simulated phone, and the pages emailed links open."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [
    path("", include("escalation.phone_urls")),
    path("", include("escalation.link_urls")),
]
