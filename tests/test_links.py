"""Signed link tokens: what they carry, and each way one is refused (expired, altered, used)."""

from __future__ import annotations

import time

import pytest
from django.core import signing
from django.db import transaction

from escalation.links.tokens import SALT, LinkError, LinkPurpose, link_consume, link_make, link_read, link_url
from escalation.models import UsedLink

pytestmark = pytest.mark.django_db

IDS = {"tenant_id": 3, "contact_id": 5, "incident_id": 7}


def signed_hours_ago(monkeypatch: pytest.MonkeyPatch, hours: float, **kwargs: object) -> str:
    """A token signed by a TimestampSigner whose clock reads `hours` earlier."""
    past = int(time.time() - hours * 3600)
    with monkeypatch.context() as patch:
        patch.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(past))
        return link_make(**{"purpose": LinkPurpose.ACK, **IDS, **kwargs})


def reason(token: str) -> str:
    with pytest.raises(LinkError) as caught:
        link_read(token)
    return caught.value.reason


def test_an_authorize_token_carries_its_contact_incident_and_sorted_scope() -> None:
    link = link_read(link_make(purpose=LinkPurpose.AUTHORIZE, action_ids=[12, 4, 9, 4], **IDS))
    assert link.purpose is LinkPurpose.AUTHORIZE
    assert (link.tenant_id, link.contact_id, link.incident_id) == (3, 5, 7)
    assert link.scope == (4, 9, 12)
    assert len(link.nonce) >= 16


def test_every_token_has_its_own_nonce() -> None:
    first, second = (link_read(link_make(purpose=LinkPurpose.ACK, **IDS)) for _ in range(2))
    assert first.nonce != second.nonce


def test_an_authorize_link_needs_actions_and_an_ack_link_has_none() -> None:
    with pytest.raises(ValueError):
        link_make(purpose=LinkPurpose.AUTHORIZE, **IDS)
    with pytest.raises(ValueError):
        link_make(purpose=LinkPurpose.ACK, action_ids=[1], **IDS)
    with pytest.raises(ValueError):
        link_make(purpose="delete_everything", **IDS)


def test_link_url_is_absolute_on_the_public_base_url(settings) -> None:
    settings.PUBLIC_BASE_URL = "https://portal.mdr.example"
    url = link_url(purpose=LinkPurpose.ACK, **IDS)
    assert url.startswith("https://portal.mdr.example/l/") and url.endswith("/")
    assert link_read(url.rsplit("/", 2)[1]).incident_id == 7


def test_a_token_older_than_the_maximum_age_is_expired(monkeypatch, settings) -> None:
    settings.LINK_MAX_AGE_HOURS = 24
    assert reason(signed_hours_ago(monkeypatch, 24.1)) == "expired"
    assert link_read(signed_hours_ago(monkeypatch, 23.9)).contact_id == 5
    settings.LINK_MAX_AGE_HOURS = 1
    assert reason(signed_hours_ago(monkeypatch, 2)) == "expired"


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature
        lambda t: t[:10] + ("x" if t[10] != "x" else "y") + t[11:],  # payload
        lambda t: t[: len(t) // 2],  # cut short
        lambda t: t.replace(":", "", 1),
        lambda t: "",
        lambda t: "not-a-token",
        lambda t: t + "\u00e9",
    ],
)
def test_an_altered_token_is_refused(change) -> None:
    token = link_make(purpose=LinkPurpose.AUTHORIZE, action_ids=[1, 2], **IDS)
    assert reason(change(token)) == "altered"


def test_a_widened_scope_breaks_the_signature() -> None:
    token = link_make(purpose=LinkPurpose.AUTHORIZE, action_ids=[1], **IDS)
    payload, stamp, signature = token.split(":")
    data = signing.JSONSerializer().loads(signing.b64_decode(payload.encode()))
    data["s"] = [1, 99]
    forged = signing.b64_encode(signing.JSONSerializer().dumps(data)).decode()
    assert reason(f"{forged}:{stamp}:{signature}") == "altered"


def test_data_signed_for_another_purpose_of_the_site_is_not_a_link() -> None:
    payload = {"p": "ack", "t": 3, "c": 5, "i": 7, "s": [], "n": "n" * 22}
    assert reason(signing.dumps(payload)) == "altered"  # Django's default salt
    assert link_read(signing.dumps(payload, salt=SALT)).contact_id == 5


@pytest.mark.parametrize(
    "payload",
    [
        {"p": "ack", "t": 3, "c": 5, "i": 7, "s": [], "n": "short"},
        {"p": "ack", "t": 3, "c": 5, "i": 7, "s": [1], "n": "n" * 22},
        {"p": "authorize", "t": 3, "c": 5, "i": 7, "s": [], "n": "n" * 22},
        {"p": "authorize", "t": 3, "c": 5, "i": 7, "s": [2, 1], "n": "n" * 22},
        {"p": "authorize", "t": 3, "c": 5, "i": 7, "s": [True], "n": "n" * 22},
        {"p": "ack", "t": "3", "c": 5, "i": 7, "s": [], "n": "n" * 22},
        {"p": "ack", "c": 5, "i": 7, "s": [], "n": "n" * 22},
        {"p": "admin", "t": 3, "c": 5, "i": 7, "s": [], "n": "n" * 22},
        ["ack", 3, 5, 7],
    ],
)
def test_a_genuine_signature_over_a_malformed_payload_is_refused(payload) -> None:
    assert reason(signing.dumps(payload, salt=SALT)) == "altered"


def test_a_consumed_token_is_used() -> None:
    token = link_make(purpose=LinkPurpose.ACK, **IDS)
    link = link_read(token)
    with transaction.atomic():
        link_consume(link)
    assert reason(token) == "used"
    assert UsedLink.objects.get().purpose == "ack"


def test_consuming_twice_fails_the_second_time_and_leaves_the_transaction_usable() -> None:
    link = link_read(link_make(purpose=LinkPurpose.ACK, **IDS))
    with transaction.atomic():
        link_consume(link)
    with transaction.atomic():
        with pytest.raises(LinkError) as caught:
            link_consume(link)
        assert caught.value.reason == "used"
        assert UsedLink.objects.count() == 1  # the transaction still works after the unique violation


def test_a_consumption_rolled_back_with_its_transaction_leaves_the_link_usable() -> None:
    token = link_make(purpose=LinkPurpose.ACK, **IDS)
    with pytest.raises(RuntimeError), transaction.atomic():
        link_consume(link_read(token))
        raise RuntimeError("the decision failed")
    assert link_read(token).nonce


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_consuming_outside_a_transaction_is_refused() -> None:
    link = link_read(link_make(purpose=LinkPurpose.ACK, **IDS))
    with pytest.raises(RuntimeError):
        link_consume(link)
    assert not UsedLink.objects.exists()
