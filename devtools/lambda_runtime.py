"""One execution environment of the local cloud: the process a Lambda runtime would be.

Started by `devtools.execution_environments` as
`python -m devtools.lambda_runtime <module.handler> <reply fd>`, with the function's environment
already in place. It imports the handler once (the init phase: its own cold start), says so on
the reply pipe, then serves one invocation at a time: a JSON line on stdin (the event and the
context's fields) in, a JSON line on the reply pipe (the handler's result or its error) out. The
handler's own output (its log lines) goes to stdout and stderr, as CloudWatch would get it.

It ends when stdin closes: when the local cloud stops, or dies without stopping it (no orphan
is left behind), at once, as Lambda ends an environment. Ctrl-C is the local cloud's to handle,
so this process ignores SIGINT.

Standard library only, besides the handler it imports.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import signal
import sys
import traceback
from collections.abc import Callable
from typing import IO, Any

from devtools.lambda_events import FakeLambdaContext

Handler = Callable[[dict[str, Any], Any], Any]


def load_handler(path: str) -> Handler:
    """`authapi.handlers.api.handler` -> that module's `handler`, as the runtime resolves it."""
    module, _, name = path.rpartition(".")
    handler: Handler = getattr(importlib.import_module(module), name)
    return handler


def max_memory_used_mb() -> int:
    """This process's peak resident memory: VmHWM, which (unlike ru_maxrss, inherited from the
    process that started it) starts afresh at exec."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024  # kB
    except OSError:
        pass
    # elsewhere ru_maxrss: KiB on Linux, bytes on macOS (an overestimate there, never an error)
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) // 1024


def send(replies: IO[bytes], message: dict[str, Any]) -> None:
    replies.write(json.dumps(message, default=str).encode() + b"\n")
    replies.flush()


def invoke(handler: Handler, request: dict[str, Any]) -> dict[str, Any]:
    context = FakeLambdaContext(**request["context"])
    try:
        return {"response": handler(request["event"], context)}
    except Exception as error:
        # what the Python runtime writes to the log for an unhandled error, then reports
        print(f"[ERROR] {type(error).__name__}: {error}", file=sys.stderr)
        traceback.print_exc()
        sys.stderr.flush()
        return {"error": {"errorType": type(error).__name__, "errorMessage": str(error)}}


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    handler_path, reply_fd = sys.argv[1], int(sys.argv[2])
    with os.fdopen(reply_fd, "wb") as replies:
        handler = load_handler(handler_path)  # an import error ends the process: an init error
        send(replies, {"ready": True})
        for line in sys.stdin.buffer:
            reply = invoke(handler, json.loads(line))
            sys.stdout.flush()
            send(replies, {**reply, "max_memory_used_mb": max_memory_used_mb()})
    # Lambda ends an environment without unwinding it (no exit hooks, no finalizers): so here,
    # which also spares the local cloud's Ctrl-C a few hundred ms per environment
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
