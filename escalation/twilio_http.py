"""An HTTP client for the Twilio SDK whose one deadline bounds the whole request, not each socket read.

The SDK's own client (requests) times out each read: an API, or a proxy in front of it, that answers a byte
every few seconds would hold a worker for ever (a dialing worker held so holds every call behind it). This
one sends the SDK's request through the deadline transport (mdrportal.core.http.transport), where a timer shuts the socket down when the
deadline passes. Calls and texts both go through it.

What a failure means, for whoever reads the error:
- `SENT_NOTHING`: the request never left (no address, no connection, a failed TLS handshake): another try
  cannot do it twice.
- `mdrportal.core.http.transport.DeadlineExceeded`, or any other error in `NO_CLEAR_ANSWER`: the request
  may have reached Twilio and been acted on, its answer lost.
"""

from __future__ import annotations

import base64
import http.client
from urllib.parse import urlencode

from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient
from twilio.http.response import Response

from mdrportal.core.http import addresses
from mdrportal.core.http.transport import Deadline, NotSent, Unusable, send

TWILIO_API = "https://api.twilio.com"
# The methods the SDK uses for what is sent here: create and update are POSTs, a fetch is a GET.
METHODS = ("GET", "POST")

SENT_NOTHING: tuple[type[BaseException], ...] = (
    addresses.AddressRefused,
    addresses.NotResolved,
    Unusable,
    NotSent,
)
NO_CLEAR_ANSWER: tuple[type[BaseException], ...] = (
    OSError,
    http.client.HTTPException,
    TwilioException,
    ValueError,
)


def failure_name(error: BaseException) -> str:
    """What went wrong, in a word for an error text: the underlying error of a request that never left."""
    return error.reason if isinstance(error, NotSent) else type(error).__name__


class DeadlineHttpClient(HttpClient):  # type: ignore[misc]  # twilio ships no types: HttpClient is Any
    """Sends the SDK's requests to `base_url` (Twilio's, a proxy, or a fake), each within `seconds` in all."""

    def __init__(self, base_url: str, *, seconds: float) -> None:
        super().__init__(logger=None, is_async=False, timeout=seconds)
        self.base_url, self.seconds = base_url.rstrip("/"), seconds

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        method = method.upper()
        if method not in METHODS:
            raise TwilioException(
                f"only {' and '.join(METHODS)} are sent through the deadline client, not {method}"
            )
        url = uri
        if url.startswith(TWILIO_API + "/"):
            url = self.base_url + url.removeprefix(TWILIO_API)
        if params:
            url += "?" + urlencode(params, doseq=True)
        sent_headers: dict[str, str] = dict(headers or {})
        if auth is not None:
            pair = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            sent_headers["Authorization"] = f"Basic {pair}"
        body = urlencode({k: v for k, v in (data or {}).items() if v is not None}, doseq=True).encode()
        # The operator chose this address (Twilio's, a proxy): it is not a customer's URL to check.
        raw = send(
            url=url,
            headers=sent_headers,
            body=body,
            deadline=Deadline(self.seconds),
            allow_local=True,
            method=method,
        )
        return Response(raw.status, raw.body.decode("utf-8", "replace"), dict(raw.headers.items()))
