"""Lambda's scaling model, locally: a pool of execution environments for one function.

Each environment is a process of its own (`devtools.lambda_runtime`) with the function's
environment, importing the handler once (its cold start) and serving one invocation at a time,
reused while warm. An invocation takes a warm idle environment when there is one; else a new one
starts, up to the concurrency limit. Past it, Lambda does not queue a synchronous invocation: it
refuses it (`Throttled`, which API Gateway answers with a 500), unless `queue_timeout` (a local
convenience, 0 by default) lets it wait that long for an environment to come free. A function
error, a crash or a timeout is `InvocationFailed` (API Gateway: 502); a crashed or timed-out
environment is dropped, and the next invocation that needs one starts a new one.

Like CloudWatch, it writes START and REPORT lines for each invocation (request id, duration,
memory, the init duration on a cold start) and INIT_START for each new environment, each naming
the function and the environment's number.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TextIO

REPO = Path(__file__).resolve().parents[1]
STOP_GRACE_SECONDS = 5.0


class Throttled(Exception):
    """Lambda refused the invocation: every environment busy and the concurrency limit reached."""


class InvocationFailed(Exception):
    """The invocation did not return a result: a function error, a crash, a timeout."""


@dataclass(frozen=True)
class FunctionConfig:
    """One function of the template, as its execution environments need it."""

    logical_id: str
    handler: str  # module.attribute, as the template's Handler
    timeout_seconds: float
    memory_mb: int
    environment: dict[str, str] = field(repr=False)

    @property
    def function_name(self) -> str:
        return f"authapi-local-{self.logical_id}"


class ExecutionEnvironment:
    """One runtime process: started (and initialised) by the constructor, then invoked."""

    def __init__(self, config: FunctionConfig, number: int) -> None:
        self.config = config
        self.number = number
        self.initialised = False  # set by the first invocation: its REPORT gives the init duration
        self.max_memory_used_mb = 0  # as the runtime last reported it
        reply_read, reply_write = os.pipe()
        started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devtools.lambda_runtime", config.handler, str(reply_write)],
            stdin=subprocess.PIPE,
            env=config.environment,
            cwd=REPO,
            pass_fds=(reply_write,),
        )
        os.close(reply_write)
        self._replies: IO[bytes] = os.fdopen(reply_read, "rb")
        try:
            self._reply(config.timeout_seconds, "init")
        except InvocationFailed:
            self.stop()
            raise
        self.init_duration = time.monotonic() - started

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def invoke(self, event: dict[str, Any], request_id: str) -> dict[str, Any]:
        """The handler's result; raises InvocationFailed."""
        config = self.config
        context = {
            "function_name": config.function_name,
            "memory_limit_in_mb": config.memory_mb,
            "timeout_seconds": config.timeout_seconds,
            "aws_request_id": request_id,
            "log_group_name": f"/aws/lambda/{config.function_name}",
        }
        request = json.dumps({"event": event, "context": context}).encode() + b"\n"
        assert self.process.stdin is not None  # opened with stdin=PIPE
        try:
            self.process.stdin.write(request)
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise InvocationFailed(self._exit_reason()) from None
        reply = self._reply(config.timeout_seconds, "invoke")
        self.max_memory_used_mb = int(reply["max_memory_used_mb"])
        if "error" in reply:
            error = reply["error"]
            raise InvocationFailed(f"{error['errorType']}: {error['errorMessage']}")
        response: dict[str, Any] = reply["response"]
        return response

    def _reply(self, timeout: float, phase: str) -> dict[str, Any]:
        readable, _, _ = select.select([self._replies], [], [], timeout)
        if not readable:
            self.process.kill()  # Lambda stops a timed-out runtime, and starts a new one next time
            self.process.wait()
            raise InvocationFailed(f"Task timed out after {timeout:.2f} seconds ({phase})")
        line = self._replies.readline()
        if not line.endswith(b"\n"):
            raise InvocationFailed(self._exit_reason())
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _exit_reason(self) -> str:
        try:
            status = self.process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait()
        if status < 0:
            return f"Runtime exited with error: signal {-status} (Runtime.ExitError)"
        return f"Runtime exited with error: exit status {status} (Runtime.ExitError)"

    def close_input(self) -> None:
        """Let the runtime end once its invocation, if any, is over."""
        if self.process.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()

    def stop(self, deadline: float | None = None) -> None:
        self.close_input()
        remaining = STOP_GRACE_SECONDS if deadline is None else deadline - time.monotonic()
        try:
            self.process.wait(timeout=max(0.0, remaining))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._replies.close()


@dataclass
class PoolCounts:
    invocations: int = 0
    cold_starts: int = 0
    throttles: int = 0
    failures: int = 0


class FunctionPool:
    """The execution environments of one function, at most `concurrency` of them."""

    def __init__(
        self,
        config: FunctionConfig,
        *,
        concurrency: int,
        queue_timeout: float = 0.0,
        out: TextIO | None = None,
    ) -> None:
        self.config = config
        self.concurrency = concurrency
        self.queue_timeout = queue_timeout
        self.counts = PoolCounts()
        self._out = out or sys.stdout
        self._changed = threading.Condition()
        self._idle: list[ExecutionEnvironment] = []  # most recently used last
        self._environments: set[ExecutionEnvironment] = set()
        self._starting = 0
        self._started = 0
        self._closed = False
        self._write_lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """One synchronous invocation; raises Throttled or InvocationFailed."""
        environment = self._acquire()
        request_id = str(uuid.uuid4())
        where = f"Function: {self.config.logical_id}\tEnvironment: {environment.number}"
        self._line(f"START RequestId: {request_id}\t{where}\tVersion: $LATEST")
        started = time.monotonic()
        status = ""
        try:
            response = environment.invoke(event, request_id)
        except InvocationFailed as error:
            with self._changed:
                self.counts.failures += 1
            status = f"\tStatus: error\tError: {error}"
            self._line(f"RequestId: {request_id} Error: {error}")
            raise
        finally:
            self._release(environment)
            self._report(request_id, where, environment, time.monotonic() - started, status)
        return response

    def _report(
        self,
        request_id: str,
        where: str,
        environment: ExecutionEnvironment,
        duration: float,
        status: str,
    ) -> None:
        ms = duration * 1000
        init = ""
        if not environment.initialised:  # the environment's first invocation: a cold start
            init = f"\tInit Duration: {environment.init_duration * 1000:.2f} ms"
            environment.initialised = True
        self._line(
            f"REPORT RequestId: {request_id}\t{where}\tDuration: {ms:.2f} ms\t"
            f"Billed Duration: {math.ceil(ms)} ms\tMemory Size: {self.config.memory_mb} MB\t"
            f"Max Memory Used: {environment.max_memory_used_mb} MB{init}{status}"
        )

    def _acquire(self) -> ExecutionEnvironment:
        deadline = time.monotonic() + self.queue_timeout
        with self._changed:
            while True:
                if self._closed:
                    raise InvocationFailed("the local cloud is stopping")
                for dead in [e for e in self._idle if not e.alive()]:
                    self._idle.remove(dead)  # died while idle (killed): never picked, slot freed
                    self._environments.discard(dead)
                if self._idle:
                    self.counts.invocations += 1
                    return self._idle.pop()  # the most recently used: the warmest
                if len(self._environments) + self._starting < self.concurrency:
                    self._starting += 1
                    self._started += 1
                    number = self._started
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self.counts.throttles += 1
                    busy = len(self._environments) + self._starting
                    self._line(
                        f"THROTTLED Function: {self.config.logical_id}\t{busy} of "
                        f"{self.concurrency} environments busy, "
                        f"{self.queue_timeout:g} s in the queue"
                    )
                    raise Throttled()
                self._changed.wait(remaining)
        return self._start(number)

    def _start(self, number: int) -> ExecutionEnvironment:
        try:
            environment = ExecutionEnvironment(self.config, number)
        except InvocationFailed as error:
            with self._changed:
                self._starting -= 1
                self.counts.failures += 1
                self._changed.notify()
            self._line(
                f"INIT_REPORT Function: {self.config.logical_id}\tEnvironment: {number}\t"
                f"Status: error\tError: {error}"
            )
            raise
        self._line(
            f"INIT_START Function: {self.config.logical_id}\tEnvironment: {number}\t"
            f"Pid: {environment.pid}"
        )
        with self._changed:
            self._starting -= 1
            closed = self._closed
            if not closed:
                self.counts.invocations += 1
                self.counts.cold_starts += 1
                self._environments.add(environment)
        if closed:  # the pool was closed while this one started: it serves nothing
            environment.stop()
            raise InvocationFailed("the local cloud is stopping")
        return environment

    def _release(self, environment: ExecutionEnvironment) -> None:
        with self._changed:
            if environment.alive() and not self._closed:
                self._idle.append(environment)
            else:
                self._environments.discard(environment)
            self._changed.notify()

    def pids(self) -> list[int]:
        with self._changed:
            return [environment.pid for environment in self._environments]

    def summary(self) -> str:
        counts = self.counts
        return (
            f"SUMMARY Function: {self.config.logical_id}\t{counts.invocations} invocations\t"
            f"{counts.cold_starts} cold starts\t{counts.throttles} throttled (500)\t"
            f"{counts.failures} failed (502)\tconcurrency {self.concurrency}, "
            f"queue timeout {self.queue_timeout:g} s"
        )

    def close(self) -> None:
        """Stop every environment: each ends after its invocation, or is killed after a grace."""
        with self._changed:
            self._closed = True
            environments = list(self._environments)
            self._environments.clear()
            self._idle.clear()
            self._changed.notify_all()
        for environment in environments:
            environment.close_input()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for environment in environments:
            environment.stop(deadline)

    def _line(self, text: str) -> None:
        with self._write_lock:
            self._out.write(text + "\n")
            self._out.flush()
