"""The embedded default's broker: kombu's filesystem transport, with every file made whole before it is seen.

kombu's own transport creates a message file under its final name and only then writes it, and a consumer
takes any file with that name without waiting for the writer's lock: a consumer that came by in between read
an empty or half-written message, and the worker stopped on the JSONDecodeError ("Unrecoverable error").
An exchange's table of queues had the same gap when the file was first made (truncated before its lock).
Here a message is written under a name no consumer looks at and renamed into the queue once complete, a
consumer takes a message by renaming it into the processed folder (on the same filesystem, so exactly one
consumer gets it), and a table file is made whole before it is linked into place.

kombu also marks a binding as made, in the process's memory, before it writes the binding to the table file:
a thread that published in that gap found no queue for its routing key and the message was dropped without a
word. A table read here is the file's bindings and this process's own, so a binding this process has made (or
is making) always routes.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads


class Channel(filesystem.Channel):
    # kombu's filesystem channel changes the virtual channel's _put, _get and get_table (its stubs say so): these
    # override them as kombu's do.
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]  # as kombu's
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # ".part" after ".msg": a consumer matches on what follows the first dot, so it never takes this.
        part = f"{final}.part"
        try:
            with open(part, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.rename(part, final)
        except OSError as exc:
            _remove_quietly(part)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: str) -> dict[str, Any]:  # type: ignore[override]  # as kombu's
        wanted = f"{queue}.msg"
        taken_dir = Path(self.processed_folder)
        taken_dir.mkdir(parents=True, exist_ok=True)
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            taken = taken_dir / name
            try:
                os.rename(os.path.join(self.data_folder_in, name), taken)
            except FileNotFoundError:
                continue  # another consumer took it first
            except OSError as exc:
                raise ChannelError(f"Cannot take file {name!r} from the queue") from exc
            try:
                payload = taken.read_bytes()
            except OSError as exc:
                raise ChannelError(f"Cannot read file {str(taken)!r} from the queue") from exc
            finally:
                if not self.store_processed:
                    _remove_quietly(str(taken))
            message: dict[str, Any] = loads(bytes_to_str(payload))  # as _put wrote it
            return message
        raise Empty()

    def get_table(self, exchange: str) -> list[filesystem.exchange_queue_t]:  # type: ignore[override]  # as kombu's
        table = super().get_table(exchange)
        # kombu's broker state always has a dict (the stubs allow None).
        exchanges = self.state.exchanges or {}
        for routing_key, pattern, queue in exchanges.get(exchange, {}).get("table", []):
            # Written as the file writes it, so a binding in both is routed (or fanned out to) once.
            own = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
            if own not in table:
                table.append(own)
        return table

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str | None, queue: str) -> None:
        table: Path = self._exchange_file(exchange)  # type: ignore[attr-defined]  # kombu's, not in its stubs
        if not table.exists():
            self.control_folder.mkdir(parents=True, exist_ok=True)
            part = table.with_name(f"{table.name}.{uuid.uuid4().hex}.part")
            part.write_bytes(b"[]")
            try:
                os.link(part, table)  # made whole, then put in place; a table made meanwhile stays
            except FileExistsError:
                pass
            finally:
                part.unlink()
        super()._queue_bind(exchange, routing_key, pattern, queue)


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


class Transport(filesystem.Transport):
    Channel = Channel
