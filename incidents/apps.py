from __future__ import annotations

import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger(__name__)


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents"

    def ready(self) -> None:
        from incidents import checks  # noqa: F401 - registers the start-up checks

        # Once a process (web and worker alike): an exception to the public-address rule is never silent.
        if settings.CONNECTOR_ALLOWED_NETWORKS:
            logger.warning(
                "Connector URLs may reach these networks besides public addresses (CONNECTOR_ALLOWED_NETWORKS): %s",
                ", ".join(settings.CONNECTOR_ALLOWED_NETWORKS),
            )
