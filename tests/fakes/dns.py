"""A fake resolver at the outbound HTTP seam (mdrportal.core.http.addresses.resolve): no test needs DNS."""

from __future__ import annotations

import socket


class FakeResolver:
    """Answers from a table; an unknown name fails the way getaddrinfo does."""

    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {}
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        try:
            return list(self.names[host])
        except KeyError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
