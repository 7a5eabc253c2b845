"""The pages emailed links open."""

from __future__ import annotations

from django.urls import path

from escalation.link_views import link_page

urlpatterns = [
    path("l/<str:token>/", link_page, name="link"),
]
