"""The PostgreSQL wire protocol, framed, and a proxy that shows each message to a watcher.

Standard library only: the benchmark's probe imports it next to the built artifact, where
nothing else is installed.

`Framer` turns a byte stream into `Message`s (protocol 3.0: a type byte and a length, except the
client's untyped startup-phase messages). `Proxy` listens on TCP or on a unix socket directory,
relays each connection to an upstream server, and calls `watch(conversation, message)` for each
client message before forwarding it: the bench counts round trips that way, the fault tests cut
connections at exact points (`conversation.cut()`, or `conversation.lose_answer()` to let the
server answer a message and drop that answer before cutting). It runs its own event loop in a
thread, so async and synchronous clients can both talk through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

# untyped startup-phase requests, told apart by the code in place of a protocol version
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102

STARTUP = b""  # the kind of an untyped startup-phase message
QUERY, PARSE, BIND, SYNC, FLUSH, PASSWORD = b"Q", b"P", b"B", b"S", b"H", b"p"
READY_FOR_QUERY = b"Z"

_CHUNK = 65536

T = TypeVar("T")


@dataclass(frozen=True)
class Message:
    kind: bytes  # one byte, or STARTUP
    body: bytes  # after the length field

    @property
    def raw(self) -> bytes:
        return self.kind + struct.pack("!I", len(self.body) + 4) + self.body

    @property
    def startup_code(self) -> int | None:
        """For a startup-phase message: the protocol version, or an SSL/GSS/cancel request."""
        if self.kind != STARTUP or len(self.body) < 4:
            return None
        code: int = struct.unpack_from("!I", self.body)[0]
        return code

    @property
    def sql(self) -> bytes | None:
        """The statement a simple Query or a Parse carries."""
        if self.kind == QUERY:
            return self.body.rstrip(b"\0")
        if self.kind == PARSE:
            return cstrings(self.body, 2)[1]
        return None


def cstrings(body: bytes, count: int) -> list[bytes]:
    """The first `count` NUL-terminated strings of a message body."""
    parts = body.split(b"\0", count)
    return parts[:count]


class Framer:
    """Splits a byte stream into messages. `client=True`: it starts in the startup phase."""

    def __init__(self, *, client: bool):
        self._buffer = bytearray()
        self._startup = client

    def feed(self, data: bytes) -> list[Message]:
        self._buffer.extend(data)
        messages: list[Message] = []
        while True:
            header = 4 if self._startup else 5
            if len(self._buffer) < header:
                return messages
            (length,) = struct.unpack_from("!I", self._buffer, header - 4)
            end = header - 4 + length
            if len(self._buffer) < end:
                return messages
            kind = STARTUP if self._startup else bytes(self._buffer[:1])
            message = Message(kind, bytes(self._buffer[header:end]))
            del self._buffer[:end]
            # after an SSL or GSS request (answered "N") comes the real startup message
            if self._startup and message.startup_code not in (SSL_REQUEST, GSSENC_REQUEST):
                self._startup = False
            messages.append(message)


class Conversation:
    """One client connection and its upstream connection, as the watcher sees them."""

    def __init__(self, client: asyncio.StreamWriter, server: asyncio.StreamWriter):
        self.client = client
        self.server = server
        self.closed = asyncio.Event()
        self.answer_lost = False

    def cut(self) -> None:
        """Drop both connections at once, as a network failure would."""
        for writer in (self.client, self.server):
            writer.transport.abort()
        self.closed.set()

    def lose_answer(self) -> None:
        """Forward the current message, drop the server's answers up to ReadyForQuery, then cut."""
        self.answer_lost = True


Watcher = Callable[[Conversation, Message], None]


class Proxy:
    """`with Proxy(upstream, watch=...) as proxy:` relays to `upstream` until the block ends.

    upstream: a unix socket path, or host:port. listen: a host (TCP, on `proxy.port`) or, when it
    starts with "/", a directory that gets the socket `.s.PGSQL.5432` (libpq's `host=<dir>`).
    """

    def __init__(self, upstream: str, *, listen: str = "127.0.0.1", watch: Watcher | None = None):
        self.upstream = upstream
        self.listen = listen
        self.port = 0
        self._watch = watch
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._conversations: set[Conversation] = set()
        self._serving: set[asyncio.Task[None]] = set()

    def __enter__(self) -> Proxy:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()
        self._server = self._call(self._listen())
        if not self.listen.startswith("/"):
            self.port = int(self._server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    async def _listen(self) -> asyncio.Server:
        if self.listen.startswith("/"):
            path = os.path.join(self.listen, ".s.PGSQL.5432")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return await asyncio.start_unix_server(self._serve, path)
        return await asyncio.start_server(self._serve, self.listen, 0)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for conversation in list(self._conversations):
            conversation.cut()
        await self._server.wait_closed()
        # before the loop stops: each connection's task finishes its own cleanup
        await asyncio.gather(*self._serving, return_exceptions=True)

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.upstream.startswith("/"):
            return await asyncio.open_unix_connection(self.upstream)
        host, _, port = self.upstream.rpartition(":")
        return await asyncio.open_connection(host, int(port))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)
        try:
            server_reader, server_writer = await self._open_upstream()
        except OSError:
            writer.transport.abort()  # the server is down: so is the proxy's side of it
            return
        conversation = Conversation(writer, server_writer)
        self._conversations.add(conversation)
        pumps = [
            asyncio.create_task(self._client_to_server(reader, conversation)),
            asyncio.create_task(self._server_to_client(server_reader, conversation)),
        ]
        try:
            await conversation.closed.wait()
        finally:
            conversation.cut()
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            self._conversations.discard(conversation)

    async def _client_to_server(
        self, reader: asyncio.StreamReader, conversation: Conversation
    ) -> None:
        framer = Framer(client=True)
        try:
            while data := await reader.read(_CHUNK):
                for message in framer.feed(data):
                    if message.startup_code in (SSL_REQUEST, GSSENC_REQUEST):
                        conversation.client.write(b"N")  # no encryption between here and there
                        continue
                    if self._watch is not None:
                        self._watch(conversation, message)  # before any answer can exist
                    if conversation.closed.is_set():
                        return
                    conversation.server.write(message.raw)
                await conversation.server.drain()
                await conversation.client.drain()
        except OSError:
            return
        finally:
            if not conversation.answer_lost:
                conversation.closed.set()

    async def _server_to_client(
        self, reader: asyncio.StreamReader, conversation: Conversation
    ) -> None:
        framer = Framer(client=False)
        try:
            while data := await reader.read(_CHUNK):
                for message in framer.feed(data):
                    if conversation.answer_lost:
                        if message.kind == READY_FOR_QUERY:  # done with the delivered message
                            return
                        continue
                    conversation.client.write(message.raw)
                await conversation.client.drain()
        except OSError:
            return
        finally:
            conversation.closed.set()
