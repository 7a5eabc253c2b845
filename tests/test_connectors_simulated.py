"""The simulated connector says what it would do, fails only where its options say, and is deterministic."""

from __future__ import annotations

import logging

import pytest

from incidents.connectors.base import ActionRequest, ConnectorOutcome, ConnectorSpec
from incidents.connectors.registry import connector_for
from incidents.connectors.simulated import SimulatedConnector
from incidents.connectors.sophos import SophosCentralConnector
from incidents.connectors.webhook import WebhookConnector
from tests.catalog import CATALOG
from tests.factories import make_action_request


def make_request(
    *, code: str = "isolate_endpoint", target: str = "FIN-LAPTOP-7", attempt: int = 1
) -> ActionRequest:
    return make_action_request(action_code=code, target=target, attempt=attempt)


def simulated(**options: object) -> SimulatedConnector:
    return SimulatedConnector(ConnectorSpec(kind="simulated", options=options))


def test_success_says_what_it_would_do_and_logs_one_info_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    result = simulated().run(make_request())
    assert result.outcome == ConnectorOutcome.SUCCEEDED
    assert result.details == {
        "simulated": True,
        "would": "Would isolate endpoint FIN-LAPTOP-7 from the network.",
    }
    lines = [r for r in caplog.records if r.name == "incidents.connectors.simulated"]
    assert [r.levelno for r in lines] == [logging.INFO]
    assert "FIN-LAPTOP-7" in lines[0].getMessage()


@pytest.mark.parametrize("code", CATALOG)
def test_every_catalog_action_has_a_plain_sentence(code: str) -> None:
    result = simulated().run(make_request(code=code, target="T-1"))
    would = result.details["would"]
    assert would.startswith("Would ") and "T-1" in would and would.endswith(".")
    assert code not in would  # a sentence of its own, not the fallback that quotes the code


def test_a_transient_target_fails_while_attempt_is_within_the_limit_then_succeeds() -> None:
    connector = simulated(transient=["FIN-LAPTOP-7"])
    outcomes = [connector.run(make_request(attempt=n)).outcome for n in (1, 2, 3, 4)]
    assert outcomes == [
        ConnectorOutcome.TRANSIENT,
        ConnectorOutcome.TRANSIENT,
        ConnectorOutcome.SUCCEEDED,
        ConnectorOutcome.SUCCEEDED,
    ]


def test_the_number_of_transient_attempts_is_an_option() -> None:
    connector = simulated(transient=["FIN-LAPTOP-7"], transient_attempts=1)
    assert connector.run(make_request(attempt=1)).outcome == ConnectorOutcome.TRANSIENT
    assert connector.run(make_request(attempt=2)).outcome == ConnectorOutcome.SUCCEEDED


def test_a_permanent_target_always_fails_with_a_readable_message() -> None:
    connector = simulated(permanent=["FIN-LAPTOP-7"], transient=["FIN-LAPTOP-7"])
    for attempt in (1, 5):
        result = connector.run(make_request(attempt=attempt))
        assert result.outcome == ConnectorOutcome.PERMANENT
        assert "FIN-LAPTOP-7" in result.message


def test_other_targets_are_not_affected_by_the_options() -> None:
    result = simulated(permanent=["OTHER"], transient=["ANOTHER"]).run(make_request())
    assert result.outcome == ConnectorOutcome.SUCCEEDED


def test_the_same_request_gives_the_same_result() -> None:
    connector = simulated(transient=["FIN-LAPTOP-7"])
    assert connector.run(make_request()) == connector.run(make_request())


@pytest.mark.parametrize(
    ("kind", "cls"),
    [
        ("simulated", SimulatedConnector),
        ("sophos_central", SophosCentralConnector),
        ("webhook", WebhookConnector),
    ],
)
def test_registry_picks_the_connector_by_kind(kind: str, cls: type) -> None:
    connector = connector_for(ConnectorSpec(kind=kind))
    assert isinstance(connector, cls)
    assert connector.kind == kind


def test_registry_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="crowdstrike"):
        connector_for(ConnectorSpec(kind="crowdstrike"))
