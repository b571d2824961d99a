"""A PostgreSQL proxy the tests control: TCP in, the embedded server's unix socket out.

`devtools.pg_wire.Proxy` reads the wire protocol in both directions, message by message; this
module decides where to cut a connection: before a statement reaches the server, once the client
sent it but before the server runs it (asyncpg prepares, then executes: the cut drops the
execute), after the server ran a statement but before the client sends COMMIT, or after the
server committed (an autocommitted statement, or a COMMIT) but before the client hears that it
did. The proxy runs its own event loop in a thread, so the async
app and the synchronous Lambda handler can both talk through it.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from devtools.pg_wire import BIND, PARSE, Conversation, Message, Proxy, cstrings


@dataclass(frozen=True)
class Cut:
    """Where to cut: the first client message (Parse or simple Query) whose SQL contains `at`.

    `executing`: the Bind that executes such a statement instead, once its Parse went through:
    the client has sent the statement and waits for its answer.
    `after`: only once a message containing this fragment went through on the same connection
    (`Cut(at=b"COMMIT", after=b"UPDATE refresh_tokens")`: the server ran the statement, the
    transaction is open, and COMMIT never arrives).
    `deliver`: forward the message, let the server answer it, drop the answer, then cut. With
    `at=b"COMMIT"` the transaction is committed and the client cannot know it, and so is an
    autocommitted statement with `executing`.
    """

    at: bytes
    after: bytes | None = None
    deliver: bool = False
    executing: bool = False


class PgProxy:
    """`with PgProxy(socket_path) as proxy:` listens on 127.0.0.1:`proxy.port`."""

    def __init__(self, socket_path: str):
        self._proxy = Proxy(socket_path, watch=self._watch)
        self._lock = threading.Lock()
        self._armed: Cut | None = None
        self._seen_after: weakref.WeakSet[Conversation] = weakref.WeakSet()
        # each connection's prepared statements by name, to tell what a Bind executes
        self._prepared: weakref.WeakKeyDictionary[Conversation, dict[bytes, bytes]] = (
            weakref.WeakKeyDictionary()
        )
        self.fired: list[Cut] = []

    @property
    def port(self) -> int:
        return self._proxy.port

    def __enter__(self) -> PgProxy:
        self._proxy.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._proxy.stop()

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def arm(self, cut: Cut) -> None:
        """Cut the next conversation that matches; the proxy is transparent again after."""
        with self._lock:
            self._armed = cut

    def disarm(self) -> Cut | None:
        with self._lock:
            armed, self._armed = self._armed, None
            return armed

    def _watch(self, conversation: Conversation, message: Message) -> None:
        """Cut now, without forwarding; a delivered cut is forwarded and cut on its answer."""
        executing = message.kind == BIND
        prepared = self._prepared.setdefault(conversation, {})
        if executing:
            _portal, name = cstrings(message.body, 2)
            sql = prepared.get(name)
        else:
            sql = message.sql
            if message.kind == PARSE and sql is not None:
                prepared[cstrings(message.body, 1)[0]] = sql
        if sql is None:
            return
        with self._lock:
            cut = self._armed
            if cut is None:
                return
            if cut.after is not None and conversation not in self._seen_after:
                if cut.after in sql:
                    self._seen_after.add(conversation)
                return
            if cut.at not in sql or cut.executing != executing:
                return
            self._armed = None
            self.fired.append(cut)
        if cut.deliver:
            conversation.lose_answer()
        else:
            conversation.cut()
