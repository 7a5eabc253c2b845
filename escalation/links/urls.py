"""The pages emailed links open, under /l/."""

from __future__ import annotations

from django.urls import path

from escalation.links.views import link_page

urlpatterns = [
    path("<str:token>/", link_page, name="link"),
]
