"""The live OpenAPI schema, fuzzed by schemathesis through the WSGI app as an all-powerful MDR user.

Every operation gets a bounded number of generated requests (valid and invalid ones); none may cause a
server error, and every documented response must match its schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.factories import api_token, make_incident, make_partner, make_tenant, propose

MAX_EXAMPLES = 20


@pytest.fixture
def wsgi_keeps_the_test_connection() -> Iterator[None]:
    """Django's own test client does the same: a request's end must not close the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_token(db: Any, wsgi_keeps_the_test_connection: None) -> str:
    """A superuser's token, and a little data for the generated ids to sometimes hit."""
    tenant = make_tenant(partner=make_partner("fuzz-msp"))
    propose(make_incident(tenant), "isolate_endpoint")
    # No password: hashing one costs more than the requests it would serve.
    user = get_user_model().objects.create(username="fuzzer", is_staff=True, is_superuser=True)
    return api_token(user)


# Loaded at collection from the app itself: the schema view touches no database. (schemathesis'
# from_fixture, which would load it per test, does not work with pytest 9.)
schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
# Seeded: a CI failure replays exactly; no example database is written into the working tree.
schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, database="none")


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_never_fails_and_answers_as_its_schema_says(case: Any, fuzz_token: str) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Token {fuzz_token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
