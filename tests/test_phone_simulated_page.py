"""The simulated phone page: ringing calls with their script, the buttons that play the phone, who may see it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from escalation.models import Acknowledgment, CallAttempt, CallOutcome
from incidents.models import EventKind, Incident
from incidents.services import incident_open
from tests.factories import login_verified, make_analyst, make_incident, make_tenant, make_user
from tests.fakes.twilio import call_dialing

pytestmark = pytest.mark.django_db
PAGE = "/dev/phone/"


@pytest.fixture(autouse=True)
def debug_on(settings) -> None:
    settings.DEBUG = True
    settings.TWILIO_AUTH_TOKEN = ""  # the simulated phone is the one in use


@pytest.fixture
def staff(client):
    user = make_analyst()
    login_verified(client, user)
    return user


@pytest.fixture
def incident() -> Incident:
    return make_incident(make_tenant(phones=2), summary="Files are being encrypted.")


@pytest.fixture
def call(incident: Incident) -> CallAttempt:
    return call_dialing(incident, backend="simulated")


def press(client, call: CallAttempt, button: str):
    return client.post(f"/dev/phone/{call.pk}/{button}/")


def fresh(call: CallAttempt) -> CallAttempt:
    return CallAttempt.objects.get(pk=call.pk)


def test_the_page_lists_a_ringing_call_with_its_script_and_buttons(client, staff, call, incident) -> None:
    response = client.get(PAGE)

    assert response.status_code == 200
    page = response.content.decode()
    assert '<meta http-equiv="refresh" content="3">' in page
    assert call.contact.name in page
    assert call.to in page
    assert incident.tenant.name in page
    assert "Ransomware on WS-0142" in page
    assert (
        f"MDR Ops security alert for {incident.tenant.name}. Critical incident: Ransomware on WS-0142. "
        "Files are being encrypted. Press 1 to acknowledge." in page
    )
    assert "Rings for " in page
    for label in (
        "Answer and press 1",
        "Answer, hang up without a key",
        "Voicemail picks up",
        "Busy",
        "Let it ring",
    ):
        assert label in page
    assert f'action="/dev/phone/{call.pk}/answer-press-1/"' in page
    assert "csrfmiddlewaretoken" in page


def test_seconds_left_count_from_when_the_call_was_placed(client, staff, call) -> None:
    CallAttempt.objects.filter(pk=call.pk).update(placed_at=timezone.now() - timedelta(seconds=20))
    (ringing,) = client.get(PAGE).context["ringing"]
    assert 8 <= ringing[0].seconds_left <= 10  # ring timeout 30 s by default
    CallAttempt.objects.filter(pk=call.pk).update(placed_at=timezone.now() - timedelta(seconds=45))
    page = client.get(PAGE).content.decode()
    assert "Ring timeout reached" in page


def test_calls_are_listed_newest_first_and_twilio_calls_are_not(client, staff, incident) -> None:
    first = call_dialing(incident, backend="simulated")
    second = call_dialing(incident_open(tenant=make_tenant(), title="Second", by=None), backend="simulated")
    call_dialing(incident_open(tenant=make_tenant(), title="Over Twilio", by=None), backend="twilio")
    CallAttempt.objects.filter(pk=first.pk).update(placed_at=timezone.now() - timedelta(seconds=5))
    ringing = client.get(PAGE).context["ringing"]
    assert [r.call.pk for r, _text in ringing] == [second.pk, first.pk]


def test_answer_and_press_1_acknowledges(client, staff, call, incident) -> None:
    response = press(client, call, "answer-press-1")
    assert response.status_code == 302
    assert response["Location"] == PAGE
    row = fresh(call)
    assert (row.outcome, row.answered_by, row.provider_status) == (
        CallOutcome.ACKNOWLEDGED,
        "human",
        "completed",
    )
    ack = Acknowledgment.objects.get(incident=incident)
    assert (ack.channel, ack.call_id) == ("phone", call.pk)
    assert incident.events.filter(kind=EventKind.ACKNOWLEDGED).count() == 1


@pytest.mark.parametrize(
    ("button", "outcome", "answered_by"),
    [
        ("answer-no-key", CallOutcome.NO_KEY, "human"),
        ("voicemail", CallOutcome.VOICEMAIL, "machine_end_beep"),
        ("busy", CallOutcome.BUSY, ""),
    ],
)
def test_buttons_that_end_the_call_without_acknowledgment(
    client, staff, call, incident, button, outcome, answered_by
) -> None:
    assert press(client, call, button).status_code == 302
    row = fresh(call)
    assert (row.outcome, row.answered_by) == (outcome, answered_by)
    assert row.ended_at is not None
    assert not Acknowledgment.objects.filter(incident=incident).exists()


def test_let_it_ring_changes_nothing(client, staff, call) -> None:
    assert press(client, call, "ring").status_code == 302
    row = fresh(call)
    assert (row.outcome, row.ended_at, row.provider_status) == (CallOutcome.DIALING, None, "")


def test_an_ended_call_is_listed_below_and_its_buttons_change_nothing(client, staff, call, incident) -> None:
    press(client, call, "busy")
    response = client.get(PAGE)
    assert response.context["ringing"] == []
    assert [c.pk for c in response.context["ended"]] == [call.pk]
    assert "No call is ringing." in response.content.decode()
    assert "Busy" in response.content.decode()

    follow = client.post(f"/dev/phone/{call.pk}/answer-press-1/", follow=True)
    assert "had already ended" in follow.content.decode()
    assert fresh(call).outcome == CallOutcome.BUSY
    assert not Acknowledgment.objects.filter(incident=incident).exists()


def test_a_twilio_call_cannot_be_played_from_the_page(client, staff, incident) -> None:
    call = call_dialing(incident, backend="twilio")
    assert press(client, call, "answer-press-1").status_code == 404
    assert fresh(call).outcome == CallOutcome.DIALING


def test_an_unknown_button_is_not_found(client, staff, call) -> None:
    assert press(client, call, "explode").status_code == 404
    assert fresh(call).outcome == CallOutcome.DIALING


def test_buttons_answer_only_post(client, staff, call) -> None:
    assert client.get(f"/dev/phone/{call.pk}/busy/").status_code == 405
    assert fresh(call).outcome == CallOutcome.DIALING


def test_the_page_does_not_exist_without_debug(client, staff, call, settings) -> None:
    settings.DEBUG = False
    assert client.get(PAGE).status_code == 404
    assert press(client, call, "answer-press-1").status_code == 404
    assert fresh(call).outcome == CallOutcome.DIALING


def test_an_anonymous_visitor_is_sent_to_log_in_and_changes_nothing(client, call) -> None:
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert press(client, call, "answer-press-1").status_code == 302
    assert fresh(call).outcome == CallOutcome.DIALING


def test_a_customer_user_is_refused(client, call) -> None:
    login_verified(client, make_user("customer"))
    assert client.get(PAGE).status_code == 302
    assert press(client, call, "answer-press-1").status_code == 302
    assert fresh(call).outcome == CallOutcome.DIALING


def test_the_page_query_count_does_not_grow_with_calls(client, staff, django_assert_num_queries) -> None:
    client.get(PAGE)  # the session's first page reads the reader's time zone once, then keeps it
    for n in range(4):
        incident = incident_open(tenant=make_tenant(), title=f"Incident {n}", by=None)
        call = call_dialing(incident, backend="simulated")
        if n % 2:
            press(client, call, "busy")
        # session, user, ringing calls, which of their incidents await a decision, ended calls, texts
        with django_assert_num_queries(6):
            assert client.get(PAGE).status_code == 200
