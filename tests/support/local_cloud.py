"""`make run`'s local cloud as a process a test started: its address, its output, its processes.

`LocalCloud.start(database, "--concurrency", "4")` runs `python -m devtools.local_cloud` on a free
port, on the session's database (it boots meanwhile: `wait_until_healthy()` returns once it
answers /health, so that a test can boot two at once). Its output (START, REPORT,
INIT_START, SUMMARY lines and the handlers' JSON log lines) is collected line by line, so a test
can wait for a line, find its execution environments' processes, and stop it as Ctrl-C does.
Also: raw HTTP/1.1 exchanges, for what an HTTP client library hides (pipelining, chunking).
"""

from __future__ import annotations

import http.client
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from devtools.local_stack import free_port
from tests.support.db import ScratchDatabase
from tests.support.loops import wait_until

REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_SECONDS = 60
GATEWAY_ERROR = {"message": "Internal Server Error"}  # API Gateway's own 500 and 502 body


@dataclass
class LocalCloud:
    process: subprocess.Popen[str]
    base_url: str
    lines: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, database: ScratchDatabase, *arguments: str) -> LocalCloud:
        port = free_port()
        environment = {
            **os.environ,
            "AUTHAPI_DATABASE_URL": database.url,
            # the session's database has roles of its own; the migration handler grants to them
            "AUTHAPI_DB_ROLE_PREFIX": database.role_prefix,
        }
        process = subprocess.Popen(
            # a mailbox on a port of its own: clouds of several tests may run at once
            [
                sys.executable,
                "-m",
                "devtools.local_cloud",
                "--port",
                str(port),
                "--mailbox-port",
                "0",
                *arguments,
            ],
            cwd=REPO,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        cloud = cls(process, f"http://127.0.0.1:{port}")
        threading.Thread(target=cloud._collect, daemon=True).start()
        return cloud

    def _collect(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_until_healthy(self) -> LocalCloud:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(self.base_url + "/health", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.process.kill()
        self.process.wait()
        raise AssertionError("the local cloud did not start:\n" + self.output()[-3000:])

    def wait_until_listening(self) -> LocalCloud:
        """Once it accepts connections, before any execution environment started."""
        self.wait_for(r"^local cloud: ApiFunction on http://", timeout=STARTUP_TIMEOUT_SECONDS)
        return self

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def output(self) -> str:
        return "\n".join(self.lines)

    def mark(self) -> int:
        """A place in the output: `wait_for(..., after=mark)` looks only at later lines."""
        return len(self.lines)

    def wait_for(self, pattern: str, *, after: int = 0, timeout: float = 10.0) -> re.Match[str]:
        """The first line from `after` on that `pattern` matches, once it is written."""
        found: list[re.Match[str]] = []

        def written() -> bool:
            found[:] = [m for line in self.lines[after:] if (m := re.search(pattern, line))][:1]
            return bool(found)

        wait_until(written, what=f"a line matching {pattern!r}", timeout=timeout)
        return found[0]

    def environments(self, function: str = "ApiFunction") -> dict[int, int]:
        """Each execution environment `function` started, by number: its process id."""
        pattern = re.compile(rf"^INIT_START Function: {function}\tEnvironment: (\d+)\tPid: (\d+)")
        return {int(m[1]): int(m[2]) for line in list(self.lines) if (m := pattern.search(line))}

    def stop(self) -> int:
        """Ctrl-C, and its exit status once everything stopped."""
        if self.process.poll() is not None:
            return self.process.returncode
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError("the local cloud did not stop on Ctrl-C") from None


def running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie, dead but not yet reaped, is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def kill_and_wait(pid: int, sig: signal.Signals = signal.SIGKILL) -> None:
    os.kill(pid, sig)
    wait_until(lambda: not running(pid), what=f"process {pid} to die")


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


class _Recorded:
    """What a socket received, for http.client to parse one response after another."""

    class _Stream(io.BytesIO):
        def close(self) -> None:
            pass  # http.client closes its stream after each response: the next one follows

    def __init__(self, received: bytes) -> None:
        self.stream = self._Stream(received)

    def makefile(self, *_args: object, **_kwargs: object) -> io.BytesIO:
        return self.stream


def parse_responses(received: bytes, methods: list[str]) -> list[RawResponse]:
    """The responses in `received`, one per request method sent (HEAD answers carry no body)."""
    recorded = _Recorded(received)
    responses = []
    for method in methods:
        response = http.client.HTTPResponse(recorded, method=method)  # type: ignore[arg-type]
        response.begin()
        headers = {name.lower(): value for name, value in response.getheaders()}
        responses.append(RawResponse(response.status, headers, response.read()))
    return responses
