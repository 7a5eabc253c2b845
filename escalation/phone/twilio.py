"""The Twilio phone backend: places a call through the official SDK; its progress comes back as webhooks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Protocol, TypeVar

from django.conf import settings
from django.urls import reverse
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.rest import Client

from escalation.phone.base import CallRef, CallRequest, CallStatus, PhoneError, PlacedCall
from escalation.twilio_http import NO_CLEAR_ANSWER, SENT_NOTHING, DeadlineHttpClient, failure_name
from mdrportal.core.http.transport import DeadlineExceeded

# Placing a call takes Twilio well under a second; a dialing worker held by a dead or dripping API would hold
# every call behind it. The whole request (name lookup, connect, TLS, every read) ends within this.
HTTP_TIMEOUT_SECONDS = 10.0
STATUS_EVENTS = ["initiated", "ringing", "answered", "completed"]
# Twilio's clock and ours may differ: a call made this long before its claim still counts as the claim's.
CLOCK_SKEW = timedelta(seconds=60)
# Calls to one number from ours since a claim: a handful at most (earlier tries have their ids recorded).
FIND_CALLS_LIMIT = 20
# No answer to a question about placed calls: none in time, none sent, or none that can be read.
UNANSWERED: tuple[type[BaseException], ...] = (DeadlineExceeded, *SENT_NOTHING, *NO_CLEAR_ANSWER)

_Answer = TypeVar("_Answer")


class _FoundCall(Protocol):
    """What is read of a call Twilio tells about (its SDK ships no types)."""

    status: str | None


def webhook_url(name: str, attempt_id: int) -> str:
    """The absolute address Twilio calls back, which is also the address its signature covers."""
    return settings.PUBLIC_BASE_URL + reverse(f"phone:{name}", args=[attempt_id])


class TwilioPhone:
    name = "twilio"

    def __init__(self) -> None:
        self.token = settings.TWILIO_AUTH_TOKEN
        self.from_number = settings.TWILIO_FROM_NUMBER
        self.client = Client(
            settings.TWILIO_ACCOUNT_SID,
            self.token,
            http_client=DeadlineHttpClient(settings.TWILIO_API_BASE_URL, seconds=HTTP_TIMEOUT_SECONDS),
        )
        # What a process loads on its first call (the SDK's Calls resource, the URL resolver), loaded here,
        # before a dispatcher takes its pace slot: a slow first request would bunch up with the next one.
        self.client.calls  # noqa: B018 - resolves the SDK's lazily loaded resource
        webhook_url("status", 0)

    def place_call(self, request: CallRequest) -> PlacedCall:
        try:
            call = self.client.calls.create(
                to=request.to,
                from_=self.from_number,
                url=webhook_url("voice", request.attempt_id),
                method="POST",
                status_callback=webhook_url("status", request.attempt_id),
                status_callback_event=STATUS_EVENTS,
                status_callback_method="POST",
                timeout=request.ring_timeout_seconds,
                machine_detection="Enable",
            )
        except (TwilioRestException, TwilioServiceException) as error:
            raise self._refused("Twilio refused the call", error) from None
        except SENT_NOTHING as error:
            # Nothing was sent: another try cannot call anyone twice.
            raise PhoneError(self._scrub(f"Twilio could not be reached: {failure_name(error)}")) from None
        # No answer in time, a connection closed after the request, an unreadable answer: Twilio may have
        # placed the call, so trying again at once could ring the same person twice. Nobody can say the phone
        # rang either, so it is no attempt (DESIGN rule 5): the run dials this try again after its backoff.
        except DeadlineExceeded:
            raise PhoneError(
                f"No complete answer from Twilio within {HTTP_TIMEOUT_SECONDS:g} s: the call may have been placed."
            ) from None
        except NO_CLEAR_ANSWER as error:
            raise PhoneError(
                self._scrub(
                    f"No clear answer from Twilio ({type(error).__name__}): the call may have been placed."
                )
            ) from None
        if not call.sid:
            raise PhoneError("Twilio's answer carried no call sid.")
        return PlacedCall(sid=call.sid)

    def fetch_status(self, call: CallRef) -> CallStatus:
        return _status(
            self._ask(
                lambda: self.client.calls(call.sid).fetch(),
                refused="Twilio did not tell the call's status",
                unanswered="about the call",
            )
        )

    def hang_up(self, call: CallRef) -> CallStatus:
        return _status(
            self._ask(
                # "completed" ends a call whether it rings or was answered.
                lambda: self.client.calls(call.sid).update(status="completed"),
                refused="Twilio did not hang up the call",
                unanswered="to the hang-up",
            )
        )

    def find_calls(self, call: CallRef) -> list[str]:
        # Twilio lists calls by number, not by the webhook addresses a call was given: the calls to this
        # number from ours, made since the claim (less the clocks' skew), are the candidates.
        found = self._ask(
            lambda: self.client.calls.list(to=call.to, from_=self.from_number, limit=FIND_CALLS_LIMIT),
            refused="Twilio did not list the calls",
            unanswered="to the list of calls",
        )
        since = call.placed_at - CLOCK_SKEW
        made = [c for c in found if c.sid and (c.date_created is None or c.date_created >= since)]
        return [c.sid for c in sorted(made, key=lambda c: c.date_created or since, reverse=True)]

    def _ask(self, ask: Callable[[], _Answer], *, refused: str, unanswered: str) -> _Answer:
        """One request about placed calls, its refusal or missing answer as a PhoneError."""
        try:
            return ask()
        except (TwilioRestException, TwilioServiceException) as error:
            raise self._refused(refused, error) from None
        except UNANSWERED as error:
            raise PhoneError(
                self._scrub(f"No answer from Twilio {unanswered} ({type(error).__name__}).")
            ) from None

    def _refused(self, what: str, error: TwilioRestException | TwilioServiceException) -> PhoneError:
        status = int(error.status)
        detail = getattr(error, "msg", "") or getattr(error, "detail", "") or getattr(error, "title", "")
        return PhoneError(self._scrub(f"{what}: HTTP {status}, code {error.code}: {detail}"))

    def _scrub(self, message: str) -> str:
        """Error texts end up in the timeline: they never carry the auth token, whatever Twilio echoes."""
        if self.token:
            message = message.replace(self.token, "[auth token]")
        return message[:500]


def _status(found: _FoundCall) -> CallStatus:
    return CallStatus(str(found.status or ""), str(getattr(found, "answered_by", None) or ""))
