"""Start-up checks of the execution settings: a wrong combination fails loudly instead of running twice."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

# Between the claim of an attempt and the start of its call (a commit), and between the end of the call and
# the lock that records its answer, time passes too; and workers' clocks differ a little.
RUN_TIMEOUT_MARGIN_SECONDS = 5


@register("mdr")
def check_connector_deadline(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Every connector call must end before the sweeper may take its attempt as lost and start another."""
    deadline = settings.CONNECTOR_TIMEOUT_SECONDS
    run_timeout = settings.ACTION_RUN_TIMEOUT_SECONDS
    if deadline + RUN_TIMEOUT_MARGIN_SECONDS <= run_timeout:
        return []
    return [
        Error(
            f"CONNECTOR_TIMEOUT_SECONDS={deadline} leaves less than {RUN_TIMEOUT_MARGIN_SECONDS} s before "
            f"ACTION_RUN_TIMEOUT_SECONDS={run_timeout}: the sweeper would start a second attempt while the "
            "first one is still talking to the platform.",
            hint=f"Set ACTION_RUN_TIMEOUT_SECONDS to at least {deadline + RUN_TIMEOUT_MARGIN_SECONDS}, "
            "or lower CONNECTOR_TIMEOUT_SECONDS.",
            id="incidents.E001",
        )
    ]
