"""One HTTP request, within a total deadline, to the address that was checked: what a connector sends to
its platform and the Twilio client to Twilio go through here.

Why not a plain HTTP client: its timeout applies to each socket read, so a server that answers a byte a
second keeps a call alive for ever, past the point where the sweeper takes the attempt as lost and starts
another one. Here one Deadline covers a whole call, a connector's or one to Twilio (name lookup, connect,
TLS, every read, every request of a sequence); a timer shuts the socket down when it passes. And the name is resolved and checked
here, then the socket is opened to that very address, while TLS still verifies the certificate for the
name (SNI) and the Host header carries the name, so a name re-pointed between check and connect is no way in.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import SplitResult, urlsplit

import certifi

from mdrportal.core.http import addresses

# An answer is kept on the action's record: enough to read an error, never a whole page.
MAX_BODY_BYTES = 64 * 1024
_CHUNK = 8192


class DeadlineExceeded(Exception):
    """The call ran out of its total time."""


class Unusable(Exception):
    """The URL or a header cannot be sent as it is: retrying cannot help."""


class NotSent(OSError):
    """The request never left: no connection could be opened, or its TLS handshake failed, the deadline
    included. Whoever sends it again cannot have it acted on twice."""

    def __init__(self, error: Exception) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.reason = type(error).__name__


class Deadline:
    """A fixed end time on the monotonic clock, shared by every step of one call."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends = time.monotonic() + seconds
        self.fired = False

    def remaining(self) -> float:
        return max(0.0, self._ends - time.monotonic())

    @property
    def expired(self) -> bool:
        return self.fired or self.remaining() <= 0

    def check(self) -> None:
        if self.expired:
            raise DeadlineExceeded

    @contextmanager
    def guard(self, sock: socket.socket) -> Iterator[Callable[[socket.socket], None]]:
        """Shut the socket down when the deadline passes, whatever read is blocked on it then.

        Yields a function to call with the socket that replaces it (TLS wraps, and detaches, the first).
        """
        watched = [sock]

        def fire() -> None:
            self.fired = True
            with suppress(OSError):  # already closed
                watched[0].shutdown(socket.SHUT_RDWR)

        def watch(replacement: socket.socket) -> None:
            watched[0] = replacement

        timer = threading.Timer(self.remaining(), fire)
        timer.daemon = True
        timer.start()
        try:
            yield watch
        finally:
            timer.cancel()


@dataclass(frozen=True)
class RawAnswer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """Certificates checked against the same CA bundle requests uses; hostnames verified."""
    return ssl.create_default_context(cafile=certifi.where())


def send(
    *,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    deadline: Deadline,
    allow_local: bool,
    method: str = "POST",
) -> RawAnswer:
    """Send body to url (POST, unless another method is named) and read the answer (at most MAX_BODY_BYTES)
    before the deadline. Never redirects.

    Before the request leaves: Unusable, addresses.AddressRefused, addresses.NotResolved or NotSent (the
    deadline included). Once it may have left: DeadlineExceeded, OSError (ssl errors included) or
    http.client.HTTPException.
    """
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError as error:
        raise Unusable("the URL is malformed") from error
    if parts.scheme not in ("http", "https") or not host:
        raise Unusable("the URL is not an http(s) address")
    if not allow_local and parts.scheme != "https":
        raise addresses.AddressRefused("Use an https:// address.")
    port = port or (443 if parts.scheme == "https" else 80)
    deadline.check()
    checked = addresses.checked_addresses(host, port, allow_local=allow_local, timeout=deadline.remaining())
    try:
        sock = _connect(checked, port, deadline)
    except (OSError, DeadlineExceeded) as error:
        raise NotSent(error) from error
    try:
        with deadline.guard(sock) as watch:
            if parts.scheme == "https":
                # The handshake is started only once the guard watches the TLS socket: a server that
                # drips its handshake is cut at the deadline too.
                sock = tls_context().wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
                watch(sock)
                sock.settimeout(deadline.remaining() or 0.001)
                try:
                    sock.do_handshake()
                except OSError as error:
                    raise NotSent(DeadlineExceeded() if deadline.expired else error) from error
            answer = _exchange(sock, parts, host, port, method, headers, body, deadline)
    except NotSent:
        raise
    except (OSError, http.client.HTTPException):
        if deadline.expired:
            raise DeadlineExceeded from None
        raise
    finally:
        sock.close()
    if deadline.fired:
        # The socket was shut mid-answer: what was read may be cut short.
        raise DeadlineExceeded
    return answer


def _connect(checked: list[str], port: int, deadline: Deadline) -> socket.socket:
    error: OSError | None = None
    for address in checked:
        deadline.check()
        try:
            sock = socket.create_connection((address, port), timeout=deadline.remaining() or 0.001)
        except TimeoutError:
            if deadline.expired:
                raise DeadlineExceeded from None
            raise
        except OSError as failure:
            error = failure
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    assert error is not None
    raise error


def _exchange(
    sock: socket.socket,
    parts: SplitResult,
    host: str,
    port: int,
    method: str,
    headers: Mapping[str, str],
    body: bytes,
    deadline: Deadline,
) -> RawAnswer:
    # The connection is handed an open socket: it never resolves or connects on its own.
    connection = http.client.HTTPConnection(host, port)
    connection.sock = sock
    default_port = 443 if parts.scheme == "https" else 80
    shown_host = f"[{host}]" if ":" in host else host
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    all_headers = {
        "Host": shown_host if port == default_port else f"{shown_host}:{port}",
        "User-Agent": "MDR-Portal",
        "Connection": "close",
        **headers,
    }
    try:
        sock.settimeout(deadline.remaining() or 0.001)
        connection.request(method, path, body=body or None, headers=all_headers)
        response = connection.getresponse()
        chunks: list[bytes] = []
        size = 0
        while size < MAX_BODY_BYTES:
            sock.settimeout(deadline.remaining() or 0.001)
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except ValueError as error:  # a header value http.client will not send
        raise Unusable("a header is not usable") from error
    return RawAnswer(status=response.status, headers=response.headers, body=b"".join(chunks)[:MAX_BODY_BYTES])
