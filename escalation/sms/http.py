"""An HTTP client for the Twilio SDK whose one deadline bounds the whole request, not each socket read.

The SDK's own client (requests) times out each read: an API, or a proxy in front of it, that answers a byte
every few seconds would hold a worker for ever. This one sends the SDK's request through the connectors'
transport, where a timer shuts the socket down when the deadline passes.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

from twilio.base.exceptions import TwilioException
from twilio.http import HttpClient
from twilio.http.response import Response

from incidents.connectors.transport import Deadline, send

TWILIO_API = "https://api.twilio.com"


class DeadlineHttpClient(HttpClient):
    """POSTs the SDK's form to `base_url` (Twilio's, a proxy, or a fake), within `seconds` in all."""

    def __init__(self, base_url: str, *, seconds: float) -> None:
        super().__init__(logger=None, is_async=False, timeout=seconds)  # type: ignore[arg-type]
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
        if method.upper() != "POST":
            raise TwilioException(f"only POST is sent through the deadline client, not {method}")
        url = uri
        if url.startswith(TWILIO_API + "/"):
            url = self.base_url + url.removeprefix(TWILIO_API)
        if params:
            url += "?" + urlencode(params, doseq=True)
        sent_headers: dict[str, Any] = dict(headers or {})
        if auth is not None:
            pair = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            sent_headers["Authorization"] = f"Basic {pair}"
        body = urlencode({k: v for k, v in (data or {}).items() if v is not None}, doseq=True).encode()
        # The operator chose this address (Twilio's, or a proxy): it is not a customer's URL to check.
        raw = send(
            url=url, headers=sent_headers, body=body, deadline=Deadline(self.seconds), allow_local=True
        )
        return Response(raw.status, raw.body.decode("utf-8", "replace"), dict(raw.headers.items()))
