"""The embedded default's broker: a consumer never reads a message that is still being written."""

from __future__ import annotations

import threading
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

import pytest
from kombu import Connection, Exchange, Queue
from kombu.transport import filesystem

from mdrportal.filesystem_broker import Channel, Transport

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
    deadline = monotonic() + 60

    def consume() -> None:
        with connection(folder) as conn:
            queue = conn.SimpleQueue("jobs")
            while len(received) < MESSAGES and not errors and monotonic() < deadline:
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
                if message.payload["body"] != BODY:
                    errors.append(AssertionError(f"message {message.payload['n']} was read half-written"))
                message.ack()

    # Daemons with a deadline: a consumer left waiting for a lost message must not keep the test run alive.
    consumers = [threading.Thread(target=consume, daemon=True) for _ in range(2)]
    for thread in consumers:
        thread.start()
    with connection(folder) as conn:
        queue = conn.SimpleQueue("jobs")
        for n in range(MESSAGES):
            queue.put({"n": n, "body": BODY})
    done.set()
    for thread in consumers:
        thread.join(timeout=max(0, deadline - monotonic()))
    assert errors == []
    assert sorted(received) == list(range(MESSAGES))
    assert list((folder / "queue").iterdir()) == []


def test_a_message_published_while_another_thread_is_still_binding_its_queue_is_delivered(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kombu marks the binding as made in memory before it writes the table file; a publish in between routed
    nowhere and the message was dropped without a word."""
    name = f"{folder.name}-gap"  # kombu remembers a process's bindings by name, whatever the folder
    in_the_gap = threading.Event()
    published = threading.Event()
    write_table = Channel._queue_bind

    def bind_slowly(self: Channel, *args: Any) -> None:
        in_the_gap.set()
        published.wait(timeout=30)
        write_table(self, *args)

    monkeypatch.setattr(Channel, "_queue_bind", bind_slowly)
    exchange = Exchange(name, type="direct")

    def declare() -> None:
        with connection(folder) as conn:
            Queue(name, exchange, routing_key=name)(conn.default_channel).declare()

    binder = threading.Thread(target=declare, daemon=True)
    binder.start()
    assert in_the_gap.wait(timeout=30)
    with connection(folder) as conn:
        conn.Producer().publish({"n": 1}, exchange=exchange, routing_key=name, declare=[])
    published.set()
    binder.join(timeout=30)

    with connection(folder) as conn:
        message = Queue(name, exchange, routing_key=name)(conn.default_channel).get(no_ack=True)
    assert message is not None
    assert message.payload == {"n": 1}


def test_a_fanout_binding_known_to_the_file_and_to_the_process_gets_one_copy(folder: Path) -> None:
    name = f"{folder.name}-fan"
    exchange = Exchange(name, type="fanout")
    with connection(folder) as conn:
        queue = Queue(name, exchange)(conn.default_channel)
        queue.declare()
        conn.Producer().publish({"n": 1}, exchange=exchange, declare=[])
        assert queue.get(no_ack=True).payload == {"n": 1}
        assert queue.get(no_ack=True) is None


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
        # The file alone (what another process reads), without this process's own bindings.
        table = filesystem.Channel.get_table(conn.default_channel, "shared")
    assert sorted(q.queue for q in table) == sorted(f"{folder.name}-q{n}" for n in range(queues))
