"""A PostgreSQL proxy that records every network round trip the client makes.

Standard library only (devtools.pg_wire is too): it runs inside the benchmark's probe, next to
the built artifact.

A round trip is a client message the client then waits on: a simple Query ('Q'), a Sync ('S')
closing an extended-protocol batch, or a Flush ('H'). A driver that prepares first (asyncpg:
Parse + Describe + Flush, then Bind + Execute + Sync) makes two per statement, so counting the
server's ReadyForQuery alone would miss every prepare; psycopg without server-side prepares (the
app's) sends Parse + Bind + Execute + Sync in one flight: one. Each round trip is labelled by
what it carried:

- `connect`: the startup message (and `auth` for each password message that follows);
- `Q BEGIN`, `Q COMMIT`, `Q ROLLBACK`, `Q <other>`: a simple query, by its first word;
- `prepare <sql>` / `execute <sql>`: an extended-protocol batch, by the statement it parsed or
  bound (`;` is SQLAlchemy's pre-ping).

Only the client's messages are looked at; the server's are relayed untouched.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter

from devtools.pg_wire import (
    BIND,
    CANCEL_REQUEST,
    FLUSH,
    PARSE,
    PASSWORD,
    QUERY,
    STARTUP,
    SYNC,
    Conversation,
    Message,
    Proxy,
    cstrings,
)


def short_sql(sql: str) -> str:
    """The first words of a statement, enough to tell statements apart in a report."""
    words = sql.split()
    if not words:
        return ";"
    head = " ".join(words[:3])
    return head if len(head) <= 40 else head[:40]


class _Batch:
    """One client's prepared statements by name, and the extended-protocol batch in progress."""

    def __init__(self) -> None:
        self.statements: dict[bytes, str] = {}
        self.pending: list[str] = []


class WireCounter:
    """Listens on `<directory>/.s.PGSQL.5432` and forwards to the real server."""

    def __init__(self, directory: str, upstream: str):
        # upstream: a unix socket path, or host:port
        self.directory = directory
        self._proxy = Proxy(upstream, listen=directory, watch=self._watch)
        self._lock = threading.Lock()
        self._labels: list[str] = []
        self._batches: weakref.WeakKeyDictionary[Conversation, _Batch] = weakref.WeakKeyDictionary()

    def start(self) -> None:
        self._proxy.start()

    def stop(self) -> None:
        self._proxy.stop()

    def take(self) -> list[str]:
        """The round trips since the last call, oldest first."""
        with self._lock:
            labels, self._labels = self._labels, []
        return labels

    def _record(self, label: str) -> None:
        with self._lock:
            self._labels.append(label)

    def _watch(self, conversation: Conversation, message: Message) -> None:
        batch = self._batches.setdefault(conversation, _Batch())
        kind = message.kind
        if kind == STARTUP:
            if message.startup_code != CANCEL_REQUEST:
                self._record("connect")
        elif kind == QUERY:
            words = (message.sql or b"").decode("utf-8", "replace").split()
            self._record("Q " + (words[0].rstrip(";").upper() if words else ";"))
        elif kind == PARSE:
            name, sql = cstrings(message.body, 2)
            batch.statements[name] = short_sql(sql.decode("utf-8", "replace"))
            batch.pending.append("prepare " + batch.statements[name])
        elif kind == BIND:
            _portal, name = cstrings(message.body, 2)
            batch.pending.append("execute " + batch.statements.get(name, "?"))
        elif kind in (SYNC, FLUSH):
            # a Parse and a Bind in one batch is one round trip: label it by the execute
            fallback = "sync" if kind == SYNC else "flush"
            label = batch.pending[-1] if batch.pending else fallback
            batch.pending.clear()
            self._record(label)
        elif kind == PASSWORD:
            self._record("auth")


def classify(labels: list[str]) -> dict[str, int]:
    """Round trips by purpose. SQLAlchemy's pre-ping (asyncpg's shape) is BEGIN, `;` (prepared, then
    executed) and ROLLBACK; the BEGIN and ROLLBACK around a `;` are the ping's own."""
    kinds: Counter[str] = Counter()
    index = 0
    while index < len(labels):
        label = labels[index]
        window = labels[index : index + 4]
        if window == ["Q BEGIN", "prepare ;", "execute ;", "Q ROLLBACK"]:
            kinds["pre_ping"] += 4
            index += 4
            continue
        if label in ("prepare ;", "execute ;"):
            kinds["pre_ping"] += 1  # an autocommit connection pings without BEGIN/ROLLBACK
        elif label in ("Q BEGIN", "Q COMMIT", "Q ROLLBACK"):
            kinds["transaction"] += 1
        elif label.startswith("prepare "):
            kinds["prepare"] += 1
        elif label.startswith("execute "):
            kinds["execute"] += 1
        elif label in ("connect", "auth"):
            kinds["connect"] += 1
        else:
            kinds["other"] += 1
        index += 1
    return dict(kinds)
