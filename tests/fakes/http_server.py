"""A local HTTP server that records every request and answers from a script: the network, faked."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
from requests.structures import CaseInsensitiveDict


@dataclass(frozen=True)
class Reply:
    """One scripted answer: a JSON body (a str is sent as plain text), or a hang that never answers.

    drip_seconds > 0 sends the whole answer (status line included) one byte at a time, that far apart.
    """

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    hang: bool = False
    drip_seconds: float = 0.0


HANG = Reply(hang=True)


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: str
    headers: CaseInsensitiveDict[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))


Responder = Callable[[Received], Reply]


class FakeHTTPServer:
    """Per path, a list of replies or responders consumed in order, the last one repeating.

    Unscripted paths go to `fallback` (404 unless set). A hang lasts `hang_seconds` at most, or until stop.
    """

    def __init__(
        self, *, fallback: Responder | None = None, hang_seconds: float = 5.0, port: int = 0
    ) -> None:
        self.fallback: Responder = fallback or (lambda received: Reply(404, {"message": "no such path"}))
        self.hang_seconds = hang_seconds
        self.received: list[Received] = []
        self.errors: list[str] = []
        self._scripts: dict[str, list[Reply | Responder]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._httpd.fake = self  # type: ignore[attr-defined]
        # A short poll interval: shutdown waits for the loop to notice, and every test stops a server.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, path: str, *replies: Reply | Responder) -> None:
        with self._lock:
            self._scripts[path] = list(replies)

    def received_at(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def answer(self, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            script = self._scripts.get(received.path)
            step = (script.pop(0) if len(script) > 1 else script[0]) if script else self.fallback
        return step if isinstance(step, Reply) else step(received)

    def __enter__(self) -> FakeHTTPServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()  # ends hangs at once, so stopping never waits for them
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


class _Handler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        fake: FakeHTTPServer = self.server.fake  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _, query = self.path.partition("?")
        received = Received(self.command, path, query, CaseInsensitiveDict(self.headers.items()), body)
        try:
            reply = fake.answer(received)
        except Exception as exc:  # a bug in a fake responder: kept for the fixture to report, not swallowed
            fake.errors.append(f"{self.command} {path}: {exc!r}")
            reply = Reply(500, {"message": "fake responder crashed"})
        if reply.hang:
            fake._stopping.wait(fake.hang_seconds)
            self.close_connection = True
            return
        text = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
        data = b"" if reply.body is None else text.encode()
        wfile = self.wfile
        if reply.drip_seconds:
            self.wfile = _Dripping(wfile, reply.drip_seconds, fake._stopping)  # type: ignore[assignment]
            self.close_connection = True
        self.send_response(reply.status)
        kind = "text/plain" if isinstance(reply.body, str) else "application/json"
        for name, value in {"Content-Type": kind, **reply.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        try:
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client gave up on a dripping answer
        finally:
            self.wfile = wfile

    def log_message(self, format: str, *args: Any) -> None:
        pass  # test output stays readable; requests are in FakeHTTPServer.received


class _Dripping:
    """Writes one byte per interval, so that every single read of the client gets something in time."""

    def __init__(self, wfile: Any, interval: float, stopping: threading.Event) -> None:
        self._wfile, self._interval, self._stopping = wfile, interval, stopping

    def write(self, data: bytes) -> int:
        for byte in data:
            if self._stopping.wait(self._interval):
                raise ConnectionAbortedError("the fake server is stopping")
            self._wfile.write(bytes([byte]))
            self._wfile.flush()
        return len(data)

    def flush(self) -> None:
        self._wfile.flush()


@contextmanager
def hanging_up_url(*, at_once: bool = True) -> Iterator[str]:
    """An https:// address whose server closes every connection at once, or (not `at_once`) holds it open
    without a word until it stops: no TLS handshake ever completes, so no request can leave."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def hang_up() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # the listener was shut
            if at_once:
                connection.close()
            else:
                held.append(connection)

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(timeout=5)
        for connection in held:
            connection.close()


def closed_port_url() -> str:
    """An address where nothing listens, for connection-refused cases."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def fake_http_server() -> Iterator[FakeHTTPServer]:
    with FakeHTTPServer() as server:
        yield server
    assert not server.errors, server.errors
