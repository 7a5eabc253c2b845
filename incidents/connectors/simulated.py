"""A connector that performs nothing and says what it would have done: the default, for demos and tests."""

from __future__ import annotations

import logging

from incidents.connectors.base import ActionRequest, ConnectorSpec, Result

logger = logging.getLogger(__name__)

_WOULD = {
    "isolate_endpoint": "isolate endpoint {target} from the network",
    "release_endpoint": "release endpoint {target} from network isolation",
    "block_sha256": "block files with SHA-256 {target}",
    "unblock_sha256": "unblock files with SHA-256 {target}",
    "block_ip": "block IP address {target}",
    "unblock_ip": "unblock IP address {target}",
    "block_domain": "block domain {target}",
    "unblock_domain": "unblock domain {target}",
    "disable_user": "disable user account {target}",
    "enable_user": "enable user account {target}",
    "terminate_process": "terminate process {target}",
    "quarantine_file": "quarantine file {target}",
    "restore_file": "restore file {target} from quarantine",
    "clean_malware": "clean malware from {target}",
    "remove_persistence": "remove persistence {target}",
    "restore_from_backup": "restore {target} from backup",
}


class SimulatedConnector:
    """Deterministic: spec.options names targets that fail, so retries and refusals can be shown and tested.

    options: {"transient": [targets], "permanent": [targets], "transient_attempts": N (default 2)}.
    """

    kind = "simulated"

    def __init__(self, spec: ConnectorSpec) -> None:
        self._options = spec.options or {}

    def run(self, request: ActionRequest) -> Result:
        template = _WOULD.get(request.action_code, "perform {code} on {target}")
        would = "Would " + template.format(target=request.target, code=request.action_code) + "."
        result = self._outcome(request=request, would=would)
        logger.info(
            "simulated action %s attempt %s (incident #%s, %s): %s",
            request.action_id,
            request.attempt,
            request.incident_id,
            result.outcome,
            result.message,
        )
        return result

    def _outcome(self, *, request: ActionRequest, would: str) -> Result:
        target = request.target
        if target in self._options.get("permanent", []):
            return Result.permanent(
                f"Simulated platform refuses {target!r}: no such target", simulated=True, would=would
            )
        attempts = int(self._options.get("transient_attempts", 2))
        if target in self._options.get("transient", []) and request.attempt <= attempts:
            return Result.transient(
                f"Simulated platform unavailable (attempt {request.attempt} of {attempts} that fail)",
                simulated=True,
                would=would,
            )
        return Result.ok(f"Simulated, nothing done: {would}", simulated=True, would=would)
