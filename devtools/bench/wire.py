"""A PostgreSQL proxy that records every network round trip the client makes.

Standard library only: it runs inside the benchmark's probe, next to the built artifact.

A round trip is a client message the client then waits on: a simple Query ('Q'), a Sync ('S')
closing an extended-protocol batch, or a Flush ('H'). asyncpg prepares with Parse + Describe +
Flush and executes with Bind + Execute + Sync, so counting the server's ReadyForQuery alone would
miss every prepare. Each round trip is labelled by what it carried:

- `connect`: the startup message (and `auth` for each password message that follows);
- `Q BEGIN`, `Q COMMIT`, `Q ROLLBACK`, `Q <other>`: a simple query, by its first word;
- `prepare <sql>` / `execute <sql>`: an extended-protocol batch, by the statement it parsed or
  bound (`;` is SQLAlchemy's pre-ping).

Only the client's direction is parsed; the server's bytes are copied untouched.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
from collections.abc import Callable

_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104
_CANCEL_REQUEST = 80877102
_CHUNK = 65536


def _cstring(data: bytes, offset: int) -> tuple[str, int]:
    end = data.index(b"\0", offset)
    return data[offset:end].decode("utf-8", "replace"), end + 1


def short_sql(sql: str) -> str:
    """The first words of a statement, enough to tell statements apart in a report."""
    words = sql.split()
    if not words:
        return ";"
    head = " ".join(words[:3])
    return head if len(head) <= 40 else head[:40]


class _ClientStream:
    """Parses what one client sends, calling `record(label)` once per round trip."""

    def __init__(self, record: Callable[[str], None]):
        self._record = record
        self._buffer = bytearray()
        self._startup = True
        self._statements: dict[str, str] = {}
        self._batch: list[str] = []

    def feed(self, data: bytes) -> None:
        self._buffer.extend(data)
        while True:
            if self._startup:
                if len(self._buffer) < 8:
                    return
                (length,) = struct.unpack_from("!i", self._buffer, 0)
                if len(self._buffer) < length:
                    return
                (code,) = struct.unpack_from("!i", self._buffer, 4)
                del self._buffer[:length]
                if code in (_SSL_REQUEST, _GSSENC_REQUEST):
                    continue  # over a unix socket the server answers 'N' and startup follows
                self._startup = False
                if code != _CANCEL_REQUEST:
                    self._record("connect")
                continue
            if len(self._buffer) < 5:
                return
            kind = chr(self._buffer[0])
            (length,) = struct.unpack_from("!i", self._buffer, 1)
            if len(self._buffer) < 1 + length:
                return
            body = bytes(self._buffer[5 : 1 + length])
            del self._buffer[: 1 + length]
            self._message(kind, body)

    def _message(self, kind: str, body: bytes) -> None:
        if kind == "Q":
            sql, _ = _cstring(body, 0)
            words = sql.split()
            self._record("Q " + (words[0].rstrip(";").upper() if words else ";"))
        elif kind == "P":
            name, offset = _cstring(body, 0)
            sql, _ = _cstring(body, offset)
            self._statements[name] = short_sql(sql)
            self._batch.append("prepare " + self._statements[name])
        elif kind == "B":
            _portal, offset = _cstring(body, 0)
            name, _ = _cstring(body, offset)
            self._batch.append("execute " + self._statements.get(name, "?"))
        elif kind in ("S", "H"):
            # a Parse and a Bind in one batch is one round trip: label it by the execute
            label = self._batch[-1] if self._batch else ("sync" if kind == "S" else "flush")
            self._batch.clear()
            self._record(label)
        elif kind == "p":
            self._record("auth")


class WireCounter:
    """Listens on `<directory>/.s.PGSQL.5432` and forwards to the real server."""

    def __init__(self, directory: str, upstream: str):
        # upstream: a unix socket path, or host:port
        self.directory = directory
        self._upstream = upstream
        self._lock = threading.Lock()
        self._labels: list[str] = []
        self._listener: socket.socket | None = None

    def start(self) -> None:
        path = os.path.join(self.directory, ".s.PGSQL.5432")
        if os.path.exists(path):
            os.unlink(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def take(self) -> list[str]:
        """The round trips since the last call, oldest first."""
        with self._lock:
            labels, self._labels = self._labels, []
        return labels

    def _record(self, label: str) -> None:
        with self._lock:
            self._labels.append(label)

    def _connect_upstream(self) -> socket.socket:
        if self._upstream.startswith("/"):
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self._upstream)
            return upstream
        host, _, port = self._upstream.rpartition(":")
        return socket.create_connection((host, int(port)))

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = self._connect_upstream()
            stream = _ClientStream(self._record)
            threading.Thread(target=self._pump, args=(client, server, stream), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, None), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket, stream: _ClientStream | None) -> None:
        try:
            while data := source.recv(_CHUNK):
                if stream is not None:
                    stream.feed(data)  # before forwarding: counted before any answer exists
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
