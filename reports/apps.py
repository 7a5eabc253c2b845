from __future__ import annotations

from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Managers' reports across incidents: figures, pages' reads, exports."""

    name = "reports"
    default_auto_field = "django.db.models.BigAutoField"
