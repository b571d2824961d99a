"""Where a client keeps its tokens: the `TokenStore` protocol, in memory, or in a file.

A client holds the lock of its store (`lock()`) around each refresh and reads the store again
inside it: a refresh another holder made meanwhile is taken, not repeated. For the file store
that lock is an `fcntl` lock, so separate processes sharing one file refresh once between them
(a second refresh of a spent token would read as reuse and end the session).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol, runtime_checkable

from authapi_client.models import Tokens


@runtime_checkable
class TokenStore(Protocol):
    def load(self) -> Tokens | None: ...

    def save(self, tokens: Tokens) -> None: ...

    def clear(self) -> None: ...

    def lock(self) -> AbstractContextManager[None]:
        """Held around a refresh: exclusive among every user of the same tokens."""
        ...


class MemoryTokenStore:
    """The default: tokens in this process only, gone when it ends."""

    def __init__(self, tokens: Tokens | None = None) -> None:
        self._tokens = tokens
        self._lock = threading.Lock()

    def load(self) -> Tokens | None:
        return self._tokens

    def save(self, tokens: Tokens) -> None:
        self._tokens = tokens

    def clear(self) -> None:
        self._tokens = None

    def lock(self) -> AbstractContextManager[None]:
        return _holding(self._lock)


@contextlib.contextmanager
def _holding(lock: threading.Lock) -> Iterator[None]:
    with lock:
        yield


class FileTokenStore:
    """Tokens in a JSON file only its owner can read (0600), replaced atomically (a reader
    never sees half a file); `<path>.lock` beside it serialises refreshes across processes."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def load(self) -> Tokens | None:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except ValueError:
            return None  # not ours, or damaged: as if signed out
        try:
            return _tokens_of(data)
        except (KeyError, TypeError, ValueError):
            return None  # JSON, but not tokens (`[]`, `{}`, a field missing): as if signed out

    def save(self, tokens: Tokens) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "expires_at": tokens.expires_at,
            "expires_in": tokens.expires_in,
        }
        # mkstemp creates the file 0600 from the start: the tokens are never readable by others
        descriptor, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name)
        try:
            with os.fdopen(descriptor, "w") as file:
                json.dump(record, file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def lock(self) -> AbstractContextManager[None]:
        return self._flock()

    @contextlib.contextmanager
    def _flock(self) -> Iterator[None]:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # closing the descriptor releases the lock


def _tokens_of(data: object) -> Tokens:
    if not isinstance(data, dict):
        raise TypeError("not a JSON object")
    access_token, refresh_token = data["access_token"], data["refresh_token"]
    if not (isinstance(access_token, str) and isinstance(refresh_token, str)):
        raise TypeError("tokens are strings")
    expires_in = data.get("expires_in")  # absent from files an older client wrote
    return Tokens(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_at=float(data["expires_at"]),
        expires_in=None if expires_in is None else float(expires_in),
    )
