"""The REST API under /api/."""

from __future__ import annotations

urlpatterns: list = []
