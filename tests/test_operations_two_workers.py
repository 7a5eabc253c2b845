"""Scale-out: two worker processes with different node names on one broker and one database, during a burst
of call trees and action executions. Each call attempt is placed once, each action attempt claimed once, and
the account's calls per second hold across both workers.

Plays Twilio's part as the integration test does (a fake REST API on 127.0.0.1, signed status callbacks from
this process); the endpoint platform is a fake Sophos Central. Needs PostgreSQL and Redis: SQLite's single
writer and the filesystem broker would prove nothing about concurrent workers.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from escalation.models import CallAttempt, CallOutcome
from escalation.runs.services import notification_start
from incidents.models import ActionAttempt, ActionStatus, ResponseAction
from tenants.models import ResponseMode
from tests.factories import make_incident, make_tenant, propose
from tests.fakes.http_server import FakeHTTPServer, Received, Reply
from tests.fakes.sophos import FakeSophosCentral
from tests.fakes.twilio import ACCOUNT_SETTINGS, FakeTwilioAPI, TwilioWebhooks, use_twilio_account
from tests.worker import Worker, purge_broker

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

CPS = 1
COLLABORATE_TENANTS = 6  # two contacts each: twelve calls, the second of each only after the first ended
AUTHORIZE_TENANTS = 3  # two isolations each (and the calls reporting them, if any)
ENDPOINTS = [f"00000000-0000-0000-0000-{n:012d}" for n in range(2 * AUTHORIZE_TENANTS)]
ISOLATION = "/endpoint/v1/endpoints/isolation"


class TimedTwilio(FakeTwilioAPI):
    """The fake Twilio REST API, noting when each call request arrived."""

    def __init__(self, server: FakeHTTPServer) -> None:
        super().__init__(server)
        self.arrivals: list[tuple[float, int]] = []  # (time, call attempt id)

    def answer(self, received: Received) -> Reply:
        reply = super().answer(received)
        if reply.status == 201:
            form = dict(re.findall(r"(Url)=([^&]+)", received.body.decode()))
            attempt = re.search(r"%2Ftwilio%2Fvoice%2F(\d+)%2F", form.get("Url", ""))
            self.arrivals.append((time.time(), int(attempt[1]) if attempt else -1))
        return reply


@pytest.fixture
def twilio() -> Iterator[TimedTwilio]:
    with FakeHTTPServer() as server:
        yield TimedTwilio(server)


@pytest.fixture
def platform() -> Iterator[FakeSophosCentral]:
    with FakeHTTPServer() as server:
        yield FakeSophosCentral(
            server, client_id="mdr-client", client_secret="s3cret-value", tenant_id="t-1", endpoints=ENDPOINTS
        )


@pytest.fixture
def env(twilio: TimedTwilio, platform: FakeSophosCentral, settings) -> dict[str, str]:
    values = {
        **ACCOUNT_SETTINGS,
        "TWILIO_API_BASE_URL": twilio.base_url,
        "TWILIO_CPS": str(CPS),
        "SOPHOS_TOKEN_URL": platform.token_url,
        "RENOTIFY_DELAY_MINUTES": "60",
        "LOG_FORMAT": "json",
    }
    # This process checks the signatures of the callbacks it posts: the same Twilio settings as the workers.
    use_twilio_account(settings)
    return values


@pytest.fixture
def workers(env: dict[str, str], transactional_db: None, tmp_path: Path) -> Iterator[list[Worker]]:
    purge_broker()
    # One beat in the deployment: embedded in the first worker only.
    pair = [
        Worker(tmp_path, name="alpha", beat=True, **env),
        Worker(tmp_path, name="beta", beat=False, **env),
    ]
    try:
        for worker in pair:
            worker.start()
        yield pair
    finally:
        for worker in pair:
            worker.stop()


def answer_open_calls(phone: TwilioWebhooks, answered: set[int]) -> int:
    """Twilio's part: every call placed and not yet ended rings out unanswered."""
    open_calls = (
        CallAttempt.objects.filter(outcome=CallOutcome.DIALING)
        .exclude(provider_sid="")
        .exclude(pk__in=answered)
    )
    for call in open_calls:
        assert phone.status(call, "no-answer").status_code == 204
        answered.add(call.pk)
    return CallAttempt.objects.filter(outcome__in=(CallOutcome.QUEUED, CallOutcome.DIALING)).count()


def test_two_workers_place_each_call_once_claim_each_action_once_and_share_the_call_rate(
    workers: list[Worker], twilio: TimedTwilio, platform: FakeSophosCentral
) -> None:
    collaborate = [make_incident(make_tenant(phones=2)) for _ in range(COLLABORATE_TENANTS)]
    actions: list[ResponseAction] = []
    endpoints = iter(ENDPOINTS)
    for _ in range(AUTHORIZE_TENANTS):
        tenant = make_tenant(mode=ResponseMode.AUTHORIZE, phones=2)
        platform.connect(tenant)
        incident = make_incident(tenant)
        actions += [propose(incident, "isolate_endpoint", target=next(endpoints)) for _ in range(2)]
    for incident in collaborate:
        notification_start(incident=incident, by=None)

    phone, answered, quiet_since = TwilioWebhooks(Client()), set(), None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        still_open = answer_open_calls(phone, answered)
        done = (
            not ResponseAction.objects.filter(pk__in=[a.pk for a in actions])
            .exclude(status=ActionStatus.SUCCEEDED)
            .exists()
            and CallAttempt.objects.filter(run__incident__in=collaborate).exclude(provider_sid="").count()
            == 2 * COLLABORATE_TENANTS
        )
        if done and still_open == 0:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 3:
                break
        else:
            quiet_since = None
        time.sleep(0.2)
    else:
        pytest.fail(
            f"the burst did not settle: actions {Counter(ResponseAction.objects.values_list('status', flat=True))}, "
            f"calls {Counter(CallAttempt.objects.values_list('outcome', flat=True))}"
        )

    # Each call attempt placed once: one request at Twilio per placed attempt, none for any other.
    placed = dict(CallAttempt.objects.exclude(provider_sid="").values_list("pk", "placed_at"))
    requests_per_attempt = Counter(attempt for _, attempt in twilio.arrivals)
    assert len(placed) >= 2 * COLLABORATE_TENANTS
    assert requests_per_attempt == Counter(dict.fromkeys(placed, 1))

    # Each action attempt claimed once: one attempt row and one request at the platform per action.
    assert ActionAttempt.objects.filter(action__in=actions).count() == len(actions)
    isolated = Counter(
        endpoint for r in platform.server.received_at(ISOLATION) for endpoint in r.json().get("ids", [])
    )
    assert isolated == Counter(dict.fromkeys(ENDPOINTS, 1))

    # The calls-per-second limit held across both workers: never two slots in one second, as the limiter
    # counted them (placed_at is stamped right after the slot is taken) ...
    per_second = Counter(int(at.timestamp()) for at in placed.values())
    assert max(per_second.values()) <= CPS, sorted(per_second.items())
    # ... and as Twilio saw them: a fixed one-second window admits at most CPS more in any 4 s, plus network
    # jitter; two workers each keeping the limit alone would have sent up to 8.
    arrivals = sorted(at for at, _ in twilio.arrivals)
    busiest = max(sum(1 for other in arrivals if at <= other < at + 4) for at in arrivals)
    assert busiest <= 6 * CPS, arrivals
    assert arrivals[-1] - arrivals[0] >= (len(arrivals) - 1) / CPS - 1.5

    # Both workers took part.
    for worker in workers:
        finished = [json.loads(line) for line in worker.log().splitlines() if b"succeeded in" in line]
        assert finished, f"{worker.name} ran no task"
    # Task log lines carry what they are about.
    lines = [json.loads(line) for w in workers for line in w.log().splitlines() if line.startswith(b"{")]
    action_lines = [line for line in lines if line.get("action_id") in {a.pk for a in actions}]
    assert action_lines and all(line["incident_id"] for line in action_lines)
