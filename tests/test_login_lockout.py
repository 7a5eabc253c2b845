"""The sign-in lock per username across addresses and per address (an IPv6 /64), under concurrency, the client address behind trusted proxies, and unlocking a user."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from io import StringIO
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from escalation.links.tokens import LinkPurpose, link_url
from incidents.models import Authorization
from mdrportal.core.client_address import client_address
from mdrportal.web.login_guard import (
    MAX_FAILURES,
    USERNAME_MAX_FAILURES,
    attempt_begin,
    attempt_failed,
)
from tenants.models import ApiToken, LoginThrottle, LoginUsernameThrottle
from tests.factories import (
    PASSWORD,
    make_incident,
    make_relaxed_viewer,
    make_tenant,
    propose,
)

TOKEN_URL = "/api/v1/auth/token/"
PROXY = "10.0.0.2"


class CountingHasher(MD5PasswordHasher):
    """MD5 (fast), counting how many passwords were actually checked."""

    checked = 0
    _lock = threading.Lock()

    def verify(self, password: str, encoded: str) -> bool:
        with CountingHasher._lock:
            CountingHasher.checked += 1
        return super().verify(password, encoded)


@pytest.fixture(autouse=True)
def counted_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["tests.test_login_lockout.CountingHasher"]
    settings.API_TOKEN_RATE = "1000/min"  # the lock is under test here, not the API's throttle
    CountingHasher.checked = 0


def token_request(username: str, password: str, **meta: str) -> Any:
    return Client().post(TOKEN_URL, {"username": username, "password": password}, **meta)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_forty_concurrent_wrong_passwords_check_at_most_five_and_the_right_one_is_refused_after() -> None:
    user = make_relaxed_viewer("target")
    start = threading.Barrier(40)

    def attempt(i: int) -> int:
        try:
            start.wait()
            return token_request("target", f"guess-{i}", REMOTE_ADDR="198.51.100.9").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(pool.map(attempt, range(40)))

    assert set(statuses) == {400, 429}  # wrong passwords, then refused as locked
    assert CountingHasher.checked <= MAX_FAILURES  # the others were refused before any password check
    throttle = LoginThrottle.objects.get()
    assert throttle.locked_until is not None
    # The right password, sent once every wrong one is in, is refused too.
    right = token_request("target", PASSWORD, REMOTE_ADDR="198.51.100.9")
    assert right.status_code == 429
    assert not ApiToken.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_the_sixth_attempt_is_refused_without_checking_its_password() -> None:
    make_relaxed_viewer("target")
    for _ in range(MAX_FAILURES):
        assert token_request("target", "wrong", REMOTE_ADDR="198.51.100.9").status_code == 400
    checked = CountingHasher.checked

    assert token_request("target", PASSWORD, REMOTE_ADDR="198.51.100.9").status_code == 429

    assert CountingHasher.checked == checked


@pytest.mark.django_db
def test_thirty_addresses_guessing_one_username_lock_it_from_every_address() -> None:
    user = make_relaxed_viewer("target")
    for i in range(30):
        token_request("target", f"guess-{i}", REMOTE_ADDR=f"2001:db8:{i:x}::1")  # 30 different /64s

    api = token_request("target", PASSWORD, REMOTE_ADDR="2001:db8:ffff::1")
    web = Client().post(
        reverse("login"), {"username": "target", "password": PASSWORD}, REMOTE_ADDR="198.51.100.77"
    )

    assert api.status_code == 429
    assert "sign-in is locked until" in api.json()["detail"]
    assert 14 * 60 < int(api["Retry-After"]) <= 15 * 60
    assert not ApiToken.objects.filter(user=user).exists()
    assert CountingHasher.checked == USERNAME_MAX_FAILURES  # the other 20 guesses were never checked
    ends = LoginUsernameThrottle.objects.get().locked_until
    assert web.status_code == 200 and "_auth_user_id" not in web.client.session
    assert (
        f"sign-in is locked until {timezone.localtime(ends, timezone.get_fixed_timezone(0)):%Y-%m-%d %H:%M} UTC"
        in (web.content.decode())
    )


@pytest.mark.django_db
def test_addresses_of_one_ipv6_64_count_as_one_address() -> None:
    make_relaxed_viewer("target")
    for i in range(MAX_FAILURES):
        token_request("target", "wrong", REMOTE_ADDR=f"2001:db8:1:2::{i + 1:x}")

    same_prefix = token_request("target", PASSWORD, REMOTE_ADDR="2001:db8:1:2:ffff::9")
    other_prefix = token_request("target", PASSWORD, REMOTE_ADDR="2001:db8:1:3::1")

    assert same_prefix.status_code == 429
    assert other_prefix.status_code == 200


@pytest.mark.django_db
def test_each_username_lock_in_a_row_lasts_twice_as_long_up_to_a_day() -> None:
    lengths = []
    for round_ in range(9):
        for i in range(USERNAME_MAX_FAILURES):
            assert attempt_begin("target", f"192.0.2.{round_ * 20 + i}") is None
            attempt_failed("target", f"192.0.2.{round_ * 20 + i}")
        row = LoginUsernameThrottle.objects.get()
        lengths.append(round((row.locked_until - timezone.now()).total_seconds() / 60))
        assert attempt_begin("target", "198.51.100.1") == row.locked_until  # locked from anywhere
        # The lock runs out; the next guesses come at once.
        shift = row.locked_until - timezone.now() + timedelta(seconds=1)
        LoginUsernameThrottle.objects.update(
            locked_until=row.locked_until - shift, window_started_at=row.window_started_at - shift
        )

    assert lengths == [15, 30, 60, 120, 240, 480, 960, 1440, 1440]


@pytest.mark.django_db
def test_a_success_starts_the_usernames_count_again_and_keeps_a_recent_lock_on_record() -> None:
    make_relaxed_viewer("target")
    for i in range(USERNAME_MAX_FAILURES - 1):
        token_request("target", "wrong", REMOTE_ADDR=f"192.0.2.{i}")
    assert token_request("target", PASSWORD, REMOTE_ADDR="198.51.100.1").status_code == 200
    assert not LoginUsernameThrottle.objects.exists()
    for i in range(USERNAME_MAX_FAILURES):
        token_request("target", "wrong", REMOTE_ADDR=f"192.0.2.{i + 50}")
    row = LoginUsernameThrottle.objects.get()
    LoginUsernameThrottle.objects.update(
        locked_until=timezone.now() - timedelta(seconds=1),
        window_started_at=timezone.now() - timedelta(seconds=1),
    )

    assert token_request("target", PASSWORD, REMOTE_ADDR="198.51.100.1").status_code == 200

    after = LoginUsernameThrottle.objects.get()
    assert (after.failures, after.locks) == (0, row.locks) == (0, 1)


@pytest.mark.django_db
def test_a_lock_that_ended_more_than_a_day_ago_is_not_doubled() -> None:
    for i in range(USERNAME_MAX_FAILURES):
        attempt_begin("target", f"192.0.2.{i}")
        attempt_failed("target", f"192.0.2.{i}")
    long_ago = timezone.now() - timedelta(days=2)
    LoginUsernameThrottle.objects.update(locked_until=long_ago, window_started_at=long_ago)
    for i in range(USERNAME_MAX_FAILURES):
        attempt_begin("target", f"192.0.2.{i + 100}")
        attempt_failed("target", f"192.0.2.{i + 100}")

    row = LoginUsernameThrottle.objects.get()
    assert row.locks == 1
    assert round((row.locked_until - timezone.now()).total_seconds() / 60) == 15


def request_from(remote: str, forwarded: str | None = None) -> Any:
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        (0, "203.0.113.5", "1.2.3.4", "203.0.113.5"),  # no proxy: the header is the client's own writing
        (1, PROXY, "203.0.113.5", "203.0.113.5"),
        (1, PROXY, "1.2.3.4, 203.0.113.5", "203.0.113.5"),  # what the client wrote before the proxy's entry
        (2, PROXY, "1.2.3.4, 203.0.113.5, 10.0.0.1", "203.0.113.5"),
        (1, PROXY, None, PROXY),  # did not come through the proxy: the peer, never a guess
        (2, PROXY, "203.0.113.5", PROXY),
        (1, PROXY, "not-an-address", PROXY),
    ],
)
def test_the_client_address_believes_only_the_trusted_proxies_entries(
    settings: Any, proxies: int, remote: str, forwarded: str | None, expected: str
) -> None:
    settings.TRUSTED_PROXY_COUNT = proxies

    assert client_address(request_from(remote, forwarded)) == expected


@pytest.mark.django_db
def test_without_a_trusted_proxy_a_forged_forwarded_for_does_not_escape_the_lock() -> None:
    make_relaxed_viewer("target")
    for i in range(MAX_FAILURES):
        token_request("target", "wrong", REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}")

    response = token_request("target", PASSWORD, REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR="192.0.2.99")

    assert response.status_code == 429


@pytest.mark.django_db
def test_behind_the_trusted_proxy_one_client_cannot_lock_out_another(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    make_relaxed_viewer("target")
    for _ in range(MAX_FAILURES + 1):
        # The attacker rewrites the header each time; the proxy appends the address it really saw.
        token_request("target", "wrong", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="192.0.2.1, 198.51.100.66")
    locked = token_request("target", PASSWORD, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.66")

    owner = token_request("target", PASSWORD, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.5")

    assert locked.status_code == 429
    assert owner.status_code == 200


@pytest.mark.django_db
def test_an_mdr_lead_unlocks_a_user_from_the_admin(lead_client: Client) -> None:
    user = make_relaxed_viewer()
    for address in ("198.51.100.1", "198.51.100.2"):
        for _ in range(MAX_FAILURES):
            token_request(user.username, "wrong", REMOTE_ADDR=address)
    bystander = make_relaxed_viewer("bystander")
    for _ in range(MAX_FAILURES):
        token_request("bystander", "wrong", REMOTE_ADDR="198.51.100.1")

    response = lead_client.post(
        reverse("admin:auth_user_changelist"), {"action": "unlock_sign_in", "_selected_action": [user.pk]}
    )

    assert response.status_code == 302
    assert token_request(user.username, PASSWORD, REMOTE_ADDR="198.51.100.1").status_code == 200
    assert token_request(user.username, PASSWORD, REMOTE_ADDR="198.51.100.2").status_code == 200
    assert token_request(bystander.username, PASSWORD, REMOTE_ADDR="198.51.100.1").status_code == 429


@pytest.mark.django_db
def test_an_analyst_cannot_unlock_users(analyst_client: Client) -> None:
    user = make_relaxed_viewer("target")
    for _ in range(MAX_FAILURES):
        token_request("target", "wrong", REMOTE_ADDR="198.51.100.1")

    analyst_client.post(
        reverse("admin:auth_user_changelist"), {"action": "unlock_sign_in", "_selected_action": [user.pk]}
    )

    assert LoginThrottle.objects.get().locked_until is not None


@pytest.mark.django_db
def test_the_unlock_login_command_lifts_the_lock() -> None:
    make_relaxed_viewer("Target")
    for _ in range(MAX_FAILURES):
        token_request("target", "wrong", REMOTE_ADDR="198.51.100.1")
    out = StringIO()

    call_command("unlock_login", "Target", stdout=out)

    assert "sign-in unlocked (1 address cleared)" in out.getvalue()
    assert token_request("Target", PASSWORD, REMOTE_ADDR="198.51.100.1").status_code == 200
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("unlock_login", "nobody")


@pytest.mark.django_db
def test_an_emailed_link_decision_records_the_client_behind_the_trusted_proxy(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    incident = make_incident(make_tenant())
    action = propose(incident, "isolate_endpoint")
    contact = incident.tenant.contacts.order_by("call_order").first()
    ids = {"tenant_id": incident.tenant_id, "contact_id": contact.pk, "incident_id": incident.pk}
    path = urlsplit(link_url(purpose=LinkPurpose.AUTHORIZE, action_ids=[action.pk], **ids)).path
    client = Client()
    shown = re.search(r'name="shown" value="([^"]*)"', client.get(path).content.decode()).group(1)

    client.post(
        path,
        {"decision": "confirm", "shown": shown},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="192.0.2.1, 198.51.100.23",
    )

    assert Authorization.objects.get().ip_address == "198.51.100.23"
