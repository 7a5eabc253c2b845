"""Which connector class serves a tenant's connector settings."""

from __future__ import annotations

from collections.abc import Callable

from incidents.connectors.base import Connector, ConnectorSpec
from incidents.connectors.simulated import SimulatedConnector
from incidents.connectors.sophos import SophosCentralConnector
from incidents.connectors.webhook import WebhookConnector

_BY_KIND: dict[str, Callable[[ConnectorSpec], Connector]] = {
    SimulatedConnector.kind: SimulatedConnector,
    SophosCentralConnector.kind: SophosCentralConnector,
    WebhookConnector.kind: WebhookConnector,
}
KINDS: tuple[str, ...] = tuple(_BY_KIND)


def connector_for(spec: ConnectorSpec) -> Connector:
    try:
        make = _BY_KIND[spec.kind]
    except KeyError:
        raise ValueError(f"unknown connector kind {spec.kind!r}; known: {', '.join(KINDS)}") from None
    return make(spec)
