"""The interface every text message backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TextRequest:
    """Everything needed to send one claimed text, read from the database before sending."""

    text_id: int
    to: str  # E.164
    body: str


@dataclass(frozen=True)
class SentText:
    sid: str  # the provider's id of the message
    status: str = ""  # the provider's word on it: queued, accepted, sent...


class SmsError(Exception):
    """The text was not sent. `permanent` says whether another try could help; `maybe_sent` that the provider
    may have taken it before the error reached us (so sending again could deliver it twice)."""

    def __init__(self, message: str, *, permanent: bool, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.permanent, self.maybe_sent = permanent, maybe_sent


class SmsBackend(Protocol):
    name: str

    def send(self, request: TextRequest) -> SentText:
        """Hand the text to the provider. Raises SmsError."""
        ...
