"""URL patterns of escalation's phone_urls."""

from __future__ import annotations

urlpatterns: list = []
