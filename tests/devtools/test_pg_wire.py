"""devtools.pg_wire framing and proxy, and the bench's round-trip counter built on them.

No PostgreSQL here: a scripted client talks through the proxy to a stand-in upstream that
records what arrives and answers each Sync with ReadyForQuery. (The fault tests drive the same
proxy against a real server: tests/faults/test_connection_cut.py.)
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools.bench.wire import WireCounter
from devtools.pg_wire import (
    PARSE,
    QUERY,
    SSL_REQUEST,
    STARTUP,
    Conversation,
    Framer,
    Message,
    Proxy,
)

pytestmark = pytest.mark.unit


def typed(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def untyped(body: bytes) -> bytes:
    return struct.pack("!I", len(body) + 4) + body


SSL = untyped(struct.pack("!I", SSL_REQUEST))
STARTUP_MESSAGE = untyped(struct.pack("!I", 196608) + b"user\0postgres\0\0")
CONVERSATION = [
    STARTUP_MESSAGE,
    typed(b"p", b"secret\0"),
    typed(b"Q", b"BEGIN\0"),
    typed(b"P", b"s1\0SELECT id FROM users WHERE email = $1\0\0\0"),
    typed(b"D", b"Ss1\0"),
    typed(b"H", b""),
    typed(b"B", b"\0s1\0\0\0\0\0\0\0"),
    typed(b"E", b"\0\0\0\0\0"),
    typed(b"S", b""),
    typed(b"Q", b"commit;\0"),
]
READY = typed(b"Z", b"I")


def test_the_framer_gives_whole_messages_whatever_the_chunks() -> None:
    stream = SSL + b"".join(CONVERSATION)
    framer = Framer(client=True)
    messages: list[Message] = []
    for index in range(0, len(stream), 3):
        messages += framer.feed(stream[index : index + 3])
    assert [message.kind for message in messages] == [
        STARTUP,
        STARTUP,
        *(part[:1] for part in CONVERSATION[1:]),
    ]
    assert messages[0].startup_code == SSL_REQUEST
    assert b"".join(message.raw for message in messages) == stream
    assert (messages[3].kind, messages[3].sql) == (QUERY, b"BEGIN")
    assert (messages[4].kind, messages[4].sql) == (PARSE, b"SELECT id FROM users WHERE email = $1")


class Upstream:
    """A unix-socket server that keeps what it is sent and answers each Sync or Flush."""

    def __init__(self, path: Path):
        self.path = str(path)
        self.received = bytearray()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        framer = Framer(client=True)
        with connection, contextlib.suppress(OSError):  # the proxy cut it
            while data := connection.recv(4096):
                self.received += data
                for message in framer.feed(data):
                    if message.kind in (b"S", b"H", b"Q"):
                        connection.sendall(READY)


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[Upstream]:
    server = Upstream(tmp_path / "upstream.sock")
    yield server
    server.listener.close()


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def talk(client: socket.socket) -> bytes:
    """The scripted conversation; returns what the client heard."""
    client.sendall(SSL)
    heard = client.recv(1)
    for part in CONVERSATION:
        client.sendall(part)
        if part[:1] in (b"S", b"H", b"Q"):
            heard += client.recv(len(READY))
    return heard


def test_the_counter_labels_each_round_trip_and_relays_every_byte(
    tmp_path: Path, upstream: Upstream
) -> None:
    listen = tmp_path / "proxy"
    listen.mkdir()
    counter = WireCounter(str(listen), upstream.path)
    counter.start()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(str(listen / ".s.PGSQL.5432"))
            heard = talk(client)
        assert heard == b"N" + READY * 4  # the proxy itself refuses SSL
        assert counter.take() == [
            "connect",
            "auth",
            "Q BEGIN",
            "prepare SELECT id FROM",
            "execute SELECT id FROM",
            "Q COMMIT",
        ]
        wait_for(lambda: len(upstream.received) >= len(b"".join(CONVERSATION)))
        assert bytes(upstream.received) == b"".join(CONVERSATION)
    finally:
        counter.stop()


def test_a_watcher_can_cut_before_a_message_reaches_the_server(upstream: Upstream) -> None:
    def cut_at_commit(conversation: Conversation, message: Message) -> None:
        if message.sql == b"commit;":
            conversation.cut()

    with (
        Proxy(upstream.path, watch=cut_at_commit) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port)) as client,
    ):
        client.sendall(b"".join(CONVERSATION))
        client.settimeout(5)
        with contextlib.suppress(ConnectionResetError):
            while client.recv(4096):
                pass  # until the proxy drops the connection
    wait_for(lambda: len(upstream.received) >= len(b"".join(CONVERSATION[:-1])))
    assert bytes(upstream.received) == b"".join(CONVERSATION[:-1])
