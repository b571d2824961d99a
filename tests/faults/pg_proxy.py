"""A PostgreSQL proxy the tests control: TCP in, the embedded server's unix socket out.

It reads the wire protocol in both directions, message by message, so a test can cut a
connection at an exact point of a conversation: before a statement reaches the server, after the
server ran a statement but before the client sends COMMIT, or after the server committed but
before the client hears that it did. It runs its own event loop in a thread, so the async app
and the synchronous Lambda handler can both talk through it.
"""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

# untyped startup-phase requests, told apart by the code in place of a protocol version
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
PARSE, QUERY, READY_FOR_QUERY = b"P", b"Q", b"Z"

T = TypeVar("T")


@dataclass(frozen=True)
class Cut:
    """Where to cut: the first client message (Parse or simple Query) whose SQL contains `at`.

    `after`: only once a message containing this fragment went through on the same connection
    (`Cut(at=b"COMMIT", after=b"UPDATE refresh_tokens")`: the server ran the statement, the
    transaction is open, and COMMIT never arrives).
    `deliver`: forward the message, let the server answer it, drop the answer, then cut. With
    `at=b"COMMIT"` the transaction is committed and the client cannot know it.
    """

    at: bytes
    after: bytes | None = None
    deliver: bool = False


@dataclass(eq=False)  # kept in a set: compared by identity
class _Conversation:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter
    seen_after: bool = False
    answer_lost: bool = False  # a delivered cut is waiting for the server's answer
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def cut(self) -> None:
        for writer in (self.client, self.server):
            writer.transport.abort()
        self.closed.set()


class PgProxy:
    """`with PgProxy(socket_path) as proxy:` listens on 127.0.0.1:`proxy.port`."""

    def __init__(self, socket_path: str):
        self._socket_path = socket_path
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._lock = threading.Lock()
        self._armed: Cut | None = None
        self._server: asyncio.Server | None = None
        self._conversations: set[_Conversation] = set()
        self.fired: list[Cut] = []
        self.port = 0

    def __enter__(self) -> PgProxy:
        self._thread.start()
        self._server = self._call(self._listen())
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *_exc: object) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def arm(self, cut: Cut) -> None:
        """Cut the next conversation that matches; the proxy is transparent again after."""
        with self._lock:
            self._armed = cut

    def disarm(self) -> Cut | None:
        with self._lock:
            armed, self._armed = self._armed, None
            return armed

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=30)

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def _shutdown(self) -> None:
        assert self._server is not None
        self._server.close()
        for conversation in list(self._conversations):
            conversation.cut()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_unix_connection(self._socket_path)
        except OSError:
            writer.transport.abort()  # the server is down: so is the proxy's side of it
            return
        conversation = _Conversation(client=writer, server=server_writer)
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
        self, reader: asyncio.StreamReader, conversation: _Conversation
    ) -> None:
        try:
            if not await self._startup(reader, conversation):
                return
            while True:
                kind = await reader.readexactly(1)
                length = await reader.readexactly(4)
                body = await reader.readexactly(struct.unpack("!I", length)[0] - 4)
                if self._should_cut(conversation, kind, body):
                    return
                conversation.server.write(kind + length + body)
                await conversation.server.drain()
        except (OSError, asyncio.IncompleteReadError):
            return
        finally:
            if not conversation.answer_lost:
                conversation.closed.set()

    async def _startup(self, reader: asyncio.StreamReader, conversation: _Conversation) -> bool:
        """Relay the untyped startup message; answer SSL/GSS requests ourselves with a no."""
        while True:
            length = await reader.readexactly(4)
            body = await reader.readexactly(struct.unpack("!I", length)[0] - 4)
            code = struct.unpack("!I", body[:4])[0]
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                conversation.client.write(b"N")
                await conversation.client.drain()
                continue
            conversation.server.write(length + body)
            await conversation.server.drain()
            return True

    def _should_cut(self, conversation: _Conversation, kind: bytes, body: bytes) -> bool:
        """True to cut now, without forwarding; a delivered cut is forwarded and cut later."""
        sql = _sql_of(kind, body)
        if sql is None:
            return False
        with self._lock:
            cut = self._armed
            if cut is None:
                return False
            if cut.after is not None and not conversation.seen_after:
                conversation.seen_after = cut.after in sql
                return False
            if cut.at not in sql:
                return False
            self._armed = None
            self.fired.append(cut)
        if cut.deliver:
            conversation.answer_lost = True
            return False
        conversation.cut()
        return True

    async def _server_to_client(
        self, reader: asyncio.StreamReader, conversation: _Conversation
    ) -> None:
        try:
            while True:
                kind = await reader.readexactly(1)
                length = await reader.readexactly(4)
                body = await reader.readexactly(struct.unpack("!I", length)[0] - 4)
                if conversation.answer_lost:
                    if kind == READY_FOR_QUERY:  # the server is done with the delivered message
                        return
                    continue
                conversation.client.write(kind + length + body)
                await conversation.client.drain()
        except (OSError, asyncio.IncompleteReadError):
            return
        finally:
            conversation.closed.set()


def _sql_of(kind: bytes, body: bytes) -> bytes | None:
    if kind == QUERY:
        return body.rstrip(b"\0")
    if kind == PARSE:
        _name, _, rest = body.partition(b"\0")
        return rest.partition(b"\0")[0]
    return None
