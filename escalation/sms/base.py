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
    """The text was not sent, or no clear answer says it was; the message says which. A failed text is never
    sent again (the provider may have taken it): it is recorded as failed and the calls and emails go on."""


class SmsBackend(Protocol):
    name: str

    def send(self, request: TextRequest) -> SentText:
        """Hand the text to the provider. Raises SmsError."""
        ...
