"""URL patterns of escalation's link_urls."""

from __future__ import annotations

urlpatterns: list = []
