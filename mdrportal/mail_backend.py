"""The embedded default's email backend: each message to the console and to one .eml file under var/mail."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.console import EmailBackend as ConsoleBackend
from django.utils import timezone


class ConsoleAndFileBackend(ConsoleBackend):
    """Console output, plus a file per message that a mail client opens (the demo's inbox)."""

    def __init__(self, *args: Any, file_path: str | os.PathLike[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.directory = Path(
            file_path or getattr(settings, "EMAIL_FILE_PATH", None) or settings.VAR_DIR / "mail"
        )

    def write_message(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"{timezone.now():%Y%m%d-%H%M%S-%f}-{uuid.uuid4().hex[:8]}.eml"
        partial = self.directory / f".{name}.part"
        partial.write_bytes(message.message().as_bytes(linesep="\r\n"))
        # Renamed into place: whoever watches the folder never reads half a message.
        partial.replace(self.directory / name)
        super().write_message(message)
