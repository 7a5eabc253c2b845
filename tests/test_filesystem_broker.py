"""The embedded default's broker: a consumer never reads a message that is still being written."""

from __future__ import annotations

import threading
from pathlib import Path
from queue import Empty

import pytest
from kombu import Connection, Exchange, Queue

from mdrportal.filesystem_broker import Transport

MESSAGES = 200
BODY = "x" * 200_000  # large enough that writing one takes a while


def connection(folder: Path, transport: object = Transport) -> Connection:
    return Connection(
        "filesystem://",
        transport=transport,
        transport_options={
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
        },
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for sub in ("queue", "processed", "control"):
        (tmp_path / sub).mkdir()
    return tmp_path


def test_a_consumer_polling_while_messages_are_written_reads_each_whole_once(folder: Path) -> None:
    received: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def consume() -> None:
        with connection(folder) as conn:
            queue = conn.SimpleQueue("jobs")
            while len(received) < MESSAGES and not errors:
                try:
                    message = queue.get(block=False)
                except Empty:
                    if done.is_set() and len(received) >= MESSAGES:
                        return
                    continue
                except Exception as error:  # noqa: BLE001 - what the worker died of: kept for the assertion
                    errors.append(error)
                    return
                received.append(message.payload["n"])
                assert message.payload["body"] == BODY
                message.ack()

    consumers = [threading.Thread(target=consume) for _ in range(2)]
    for thread in consumers:
        thread.start()
    with connection(folder) as conn:
        queue = conn.SimpleQueue("jobs")
        for n in range(MESSAGES):
            queue.put({"n": n, "body": BODY})
    done.set()
    for thread in consumers:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(received) == list(range(MESSAGES))
    assert list((folder / "queue").iterdir()) == []


@pytest.mark.parametrize("queues", [1, 8])
def test_queues_bound_at_once_all_stay_in_the_exchange_table(folder: Path, queues: int) -> None:
    def bind(n: int) -> None:
        name = f"{folder.name}-q{n}"  # kombu remembers a process's bindings by name, whatever the folder
        with connection(folder) as conn:
            Queue(name, Exchange("shared", type="direct"), routing_key=name)(conn.default_channel).declare()

    threads = [threading.Thread(target=bind, args=(n,)) for n in range(queues)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    with connection(folder) as conn:
        table = conn.default_channel.get_table("shared")
    assert sorted(q.queue for q in table) == sorted(f"{folder.name}-q{n}" for n in range(queues))
