"""Twilio, faked: its REST API for placing calls and sending texts (on FakeHTTPServer), and its side of the
webhooks it signs."""

from __future__ import annotations

import base64
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

from django.test import Client
from twilio.request_validator import RequestValidator

from escalation.calls.dispatch import call_claim_next
from escalation.calls.records import call_placed
from escalation.models import CallAttempt
from escalation.runs.services import notification_start, run_advance
from incidents.models import Incident
from tests.fakes.http_server import FakeHTTPServer, Received, Reply

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f2b6c1d0e9a84c7b9d3e5f60718293a4"
FROM_NUMBER = "+15005550006"
PUBLIC_BASE_URL = "https://portal.example.com"
# The portal's settings for this account. Twilio calls the portal at its public address (the test client sends
# Host: testserver, so the signatures are computed over PUBLIC_BASE_URL).
ACCOUNT_SETTINGS = {
    "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
    "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
    "TWILIO_FROM_NUMBER": FROM_NUMBER,
    "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
}
_CALLS = re.compile(r"/2010-04-01/Accounts/(AC[0-9a-f]{32})/Calls\.json")
_CALL = re.compile(r"/2010-04-01/Accounts/(AC[0-9a-f]{32})/Calls/(CA[0-9a-f]{32})\.json")
_MESSAGES = re.compile(r"/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json")


def messages_path(account_sid: str = ACCOUNT_SID) -> str:
    return f"/2010-04-01/Accounts/{account_sid}/Messages.json"


def new_call_sid() -> str:
    return "CA" + uuid.uuid4().hex


@dataclass(frozen=True)
class PlacedCallRecord:
    """One call the fake accepted: the form as sent (repeated keys kept), the sid it answered with, and when
    it accepted the request (seconds since the epoch)."""

    sid: str
    form: dict[str, list[str]]
    at: float = 0.0

    def one(self, name: str) -> str:
        (value,) = self.form[name]
        return value


class FakeTwilioAPI:
    """Twilio's Calls resource with basic auth, answering like Twilio does: POST Calls.json places a call,
    GET Calls.json?To=..&From=.. lists the calls to a number (newest first), GET Calls/{sid}.json tells how it stands (`status[sid]`, set by the test playing the carrier), POST
    Calls/{sid}.json with Status=completed hangs it up (kept in `hung_up`).

    `fail_with(status, code, message)` makes the next answers errors, in Twilio's error JSON, until
    `recover()`.
    """

    def __init__(
        self, server: FakeHTTPServer, *, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN
    ):
        self.server, self.account_sid, self.auth_token = server, account_sid, auth_token
        self.calls: list[PlacedCallRecord] = []
        self.requests: list[Received] = []
        self.status: dict[str, str] = {}
        self.hung_up: list[str] = []
        self.fetched: list[str] = []
        self.messages: list[PlacedCallRecord] = []
        self._failure: Reply | None = None
        self._message_failure: Reply | None = None
        server.fallback = self.answer

    @property
    def base_url(self) -> str:
        return self.server.url

    def fail_with(self, status: int, code: int, message: str) -> None:
        self._failure = Reply(status, self._error(status, code, message))

    def recover(self) -> None:
        self._failure = None
        self._message_failure = None

    def fail_messages_with(self, status: int, code: int, message: str) -> None:
        """Refuse texts only (calls still go through), until `recover()`."""
        self._message_failure = Reply(status, self._error(status, code, message))

    def texts_to(self, number: str) -> list[str]:
        """The bodies of the texts accepted for this number, in order."""
        return [m.one("Body") for m in self.messages if m.one("To") == number]

    def _error(self, status: int, code: int, message: str) -> dict[str, Any]:
        return {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }

    def _authorized(self, received: Received) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return received.headers.get("Authorization") == f"Basic {expected}"

    def answer(self, received: Received) -> Reply:
        self.requests.append(received)
        one = _CALL.fullmatch(received.path)
        if one is not None:
            return self._one_call(received, one[1], one[2])
        texts = _MESSAGES.fullmatch(received.path)
        if texts is not None:
            return self._message(received, texts[1])
        match = _CALLS.fullmatch(received.path)
        if received.method == "GET" and match is not None:
            return self._list_calls(received, match[1])
        if received.method != "POST" or match is None:
            return Reply(404, self._error(404, 20404, "The requested resource was not found"))
        if not self._authorized(received) or match[1] != self.account_sid:
            return Reply(401, self._error(401, 20003, "Authenticate"))
        if self._failure is not None:
            return self._failure
        form = parse_qs(received.body.decode(), keep_blank_values=True)
        for required in ("To", "From"):
            if not form.get(required):
                return Reply(400, self._error(400, 21201, f"No '{required}' number is specified"))
        if not form.get("Url") and not form.get("Twiml") and not form.get("ApplicationSid"):
            return Reply(400, self._error(400, 21205, "Url parameter is required"))
        sid = new_call_sid()
        self.calls.append(PlacedCallRecord(sid=sid, form=form, at=time.time()))
        self.status[sid] = "queued"
        return Reply(201, self._call_json(sid, form))

    def _message(self, received: Received, account: str) -> Reply:
        """POST Messages.json: a text, from a number or a messaging service, as Twilio checks it."""
        if received.method != "POST":
            return Reply(404, self._error(404, 20404, "The requested resource was not found"))
        if not self._authorized(received) or account != self.account_sid:
            return Reply(401, self._error(401, 20003, "Authenticate"))
        if self._failure is not None or self._message_failure is not None:
            return self._message_failure or self._failure  # type: ignore[return-value]
        form = parse_qs(received.body.decode(), keep_blank_values=True)
        if not form.get("To"):
            return Reply(400, self._error(400, 21604, "A 'To' phone number is required."))
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return Reply(400, self._error(400, 21603, "A 'From' phone number is required."))
        if not form.get("Body") and not form.get("MediaUrl"):
            return Reply(400, self._error(400, 21602, "Message body is required."))
        sid = "SM" + uuid.uuid4().hex
        self.messages.append(PlacedCallRecord(sid=sid, form=form))
        now = format_datetime(datetime.now(UTC), usegmt=True).replace("GMT", "+0000")
        return Reply(
            201,
            {
                "account_sid": self.account_sid,
                "api_version": "2010-04-01",
                "body": form["Body"][0],
                "date_created": now,
                "date_sent": None,
                "date_updated": now,
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": (form.get("From") or [None])[0],
                "messaging_service_sid": (form.get("MessagingServiceSid") or [None])[0],
                "num_media": "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "sid": sid,
                "status": "accepted" if form.get("MessagingServiceSid") else "queued",
                "subresource_uris": {
                    "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
                },
                "to": form["To"][0],
                "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            },
        )

    def _list_calls(self, received: Received, account: str) -> Reply:
        """GET Calls.json: one page of the calls accepted, filtered by To and From as Twilio does."""
        if not self._authorized(received) or account != self.account_sid:
            return Reply(401, self._error(401, 20003, "Authenticate"))
        if self._failure is not None:
            return self._failure
        query = parse_qs(received.query)
        wanted = {name: query[name][0] for name in ("To", "From") if name in query}
        found = [c for c in reversed(self.calls) if all(c.one(k) == v for k, v in wanted.items())]
        size = int(query.get("PageSize", ["50"])[0])
        path = f"/2010-04-01/Accounts/{self.account_sid}/Calls.json"
        return Reply(
            200,
            {
                "calls": [
                    {**self._call_json(c.sid, c.form, at=c.at), "status": self.status[c.sid]}
                    for c in found[:size]
                ],
                "end": min(len(found), size) - 1,
                "first_page_uri": f"{path}?PageSize={size}&Page=0",
                "next_page_uri": None,
                "page": 0,
                "page_size": size,
                "previous_page_uri": None,
                "start": 0,
                "uri": f"{path}?PageSize={size}&Page=0",
            },
        )

    def _one_call(self, received: Received, account: str, sid: str) -> Reply:
        if not self._authorized(received) or account != self.account_sid:
            return Reply(401, self._error(401, 20003, "Authenticate"))
        if self._failure is not None:
            return self._failure
        placed = next((c for c in self.calls if c.sid == sid), None)
        if placed is None or received.method not in ("GET", "POST"):
            return Reply(404, self._error(404, 20404, "The requested resource was not found"))
        if received.method == "POST":
            wanted = parse_qs(received.body.decode()).get("Status", [""])[0]
            if wanted in ("completed", "canceled") and self.status[sid] in (
                "queued",
                "ringing",
                "in-progress",
            ):
                self.hung_up.append(sid)
                self.status[sid] = "completed" if self.status[sid] == "in-progress" else "canceled"
        else:
            self.fetched.append(sid)
        return Reply(200, {**self._call_json(sid, placed.form, at=placed.at), "status": self.status[sid]})

    def _call_json(self, sid: str, form: dict[str, list[str]], *, at: float | None = None) -> dict[str, Any]:
        now = format_datetime(datetime.now(UTC), usegmt=True).replace("GMT", "+0000")
        created = now if at is None else format_datetime(datetime.fromtimestamp(at, UTC), usegmt=True)
        created = created.replace("GMT", "+0000")
        base = f"/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}"
        return {
            "account_sid": self.account_sid,
            "annotation": None,
            "answered_by": None,
            "api_version": "2010-04-01",
            "caller_name": None,
            "date_created": created,
            "date_updated": now,
            "direction": "outbound-api",
            "duration": None,
            "end_time": None,
            "forwarded_from": None,
            "from": form["From"][0],
            "from_formatted": form["From"][0],
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": "PN" + uuid.uuid4().hex,
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "start_time": None,
            "status": "queued",
            "subresource_uris": {
                "notifications": f"{base}/Notifications.json",
                "recordings": f"{base}/Recordings.json",
                "payments": f"{base}/Payments.json",
                "events": f"{base}/Events.json",
                "siprec": f"{base}/Siprec.json",
                "streams": f"{base}/Streams.json",
                "transcriptions": f"{base}/Transcriptions.json",
                "user_defined_message_subscriptions": f"{base}/UserDefinedMessageSubscriptions.json",
                "user_defined_messages": f"{base}/UserDefinedMessages.json",
            },
            "to": form["To"][0],
            "to_formatted": form["To"][0],
            "trunk_sid": None,
            "uri": f"{base}.json",
            "queue_time": "0",
        }


def use_twilio_account(settings: Any, api_base_url: str | None = None) -> None:
    """Set the portal (pytest-django's settings) to phone through this account, at a fake API if given."""
    for name, value in ACCOUNT_SETTINGS.items():
        setattr(settings, name, value)
    if api_base_url is not None:
        settings.TWILIO_API_BASE_URL = api_base_url


def worker_env(twilio: FakeTwilioAPI, *, smtp_port: int, **overrides: str) -> dict[str, str]:
    """The environment of a worker that phones through this fake and mails to an SMTP sink on 127.0.0.1."""
    return {
        **ACCOUNT_SETTINGS,
        "TWILIO_MESSAGING_FROM": FROM_NUMBER,
        "TWILIO_API_BASE_URL": twilio.base_url,
        "TWILIO_CPS": "5",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "EMAIL_USE_TLS": "false",
        **overrides,
    }


def twilio_signature(url: str, params: dict[str, str], *, token: str = AUTH_TOKEN) -> str:
    """X-Twilio-Signature as Twilio computes it: HMAC-SHA1 of the full URL and the sorted POST params."""
    return RequestValidator(token).compute_signature(url, params)


class TwilioWebhooks:
    """Plays Twilio's side of a call: POSTs signed webhooks to the portal through the Django test client.

    The client sends Host: testserver while the signature covers `signed_base`: the portal must rebuild the
    URL from PUBLIC_BASE_URL to accept it.
    """

    def __init__(self, client: Client, *, signed_base: str = PUBLIC_BASE_URL, token: str = AUTH_TOKEN):
        self.client, self.signed_base, self.token = client, signed_base, token

    def params(self, call: CallAttempt, **extra: str) -> dict[str, str]:
        return {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "CallSid": call.provider_sid,
            "Direction": "outbound-api",
            "From": FROM_NUMBER,
            "To": call.to,
            **extra,
        }

    def post(self, path: str, params: dict[str, str], *, signature: str | None = None) -> Any:
        headers = {}
        if signature is None:
            signature = twilio_signature(self.signed_base + path, params, token=self.token)
        if signature:
            headers["X-Twilio-Signature"] = signature
        return self.client.post(path, params, headers=headers)

    def voice(self, call: CallAttempt, **extra: str) -> Any:
        return self.post(f"/twilio/voice/{call.pk}/", self.params(call, CallStatus="in-progress", **extra))

    def press(self, call: CallAttempt, digits: str, *, query: str = "") -> Any:
        params = self.params(call, CallStatus="in-progress", Digits=digits, FinishedOnKey="")
        return self.post(f"/twilio/gather/{call.pk}/{query}", params)

    def text(self, sender: str, body: str, *, signature: str | None = None) -> Any:
        """A text that comes in to our number from `sender` ("a message comes in")."""
        params = {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "MessageSid": "SM" + uuid.uuid4().hex,
            "SmsSid": "SM" + uuid.uuid4().hex,
            "From": sender,
            "To": FROM_NUMBER,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
        }
        return self.post("/twilio/sms/", params, signature=signature)

    def status(self, call: CallAttempt, status: str, **extra: str) -> Any:
        params = self.params(call, CallStatus=status, **extra)
        if status == "completed":
            params.setdefault("CallDuration", "17")
        return self.post(f"/twilio/status/{call.pk}/", params)


def call_dialing(incident: Incident, *, backend: str = "twilio", sid: str | None = None) -> CallAttempt:
    """Start notifying and dial the first call as the dispatcher would: the call is ringing at `backend`."""
    run = notification_start(incident=incident, by=None)
    run_advance(run.pk)
    request = call_claim_next(backend)
    assert request is not None, "the run queued no call"
    if sid is None:
        sid = new_call_sid() if backend == "twilio" else f"SIM{request.attempt_id}"
    call_placed(attempt_id=request.attempt_id, sid=sid)
    return CallAttempt.objects.get(pk=request.attempt_id)
