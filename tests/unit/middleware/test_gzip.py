"""The GZip layer sends, for every kind of answer, exactly what Starlette's GZipMiddleware sends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Message, Scope

from authapi.middleware.gzip import SmallAnswerGZipMiddleware

pytestmark = pytest.mark.unit

LARGE = b'{"items": "' + b"x" * 4000 + b'"}'


async def _stream() -> AsyncIterator[bytes]:
    yield b"first " * 300
    yield b"second " * 300


def _answers(kind: str) -> Response:
    if kind == "small json":
        return Response(b'{"ok": true}', media_type="application/json")
    if kind == "large json":
        return Response(LARGE, media_type="application/json")
    if kind == "empty":
        return Response(status_code=204)
    if kind == "stream":
        return StreamingResponse(_stream(), media_type="text/plain")
    if kind == "event stream":
        return StreamingResponse(_stream(), media_type="text/event-stream")
    if kind == "already encoded":
        return Response(LARGE, headers={"content-encoding": "br"}, media_type="text/plain")
    if kind == "partial":
        return PlainTextResponse("y" * 3000, status_code=206)
    raise AssertionError(kind)


KINDS = [
    "small json",
    "large json",
    "empty",
    "stream",
    "event stream",
    "already encoded",
    "partial",
]


def _app(kind: str) -> ASGIApp:
    async def app(scope: Scope, receive: object, send: object) -> None:
        request = Request(scope)
        assert request.method == "GET"
        await _answers(kind)(scope, receive, send)  # type: ignore[arg-type]

    return app


async def _sent(middleware: ASGIApp, accept: bytes | None) -> list[Message]:
    headers = [(b"accept-encoding", accept)] if accept is not None else []
    scope = {"type": "http", "method": "GET", "path": "/", "headers": headers, "query_string": b""}
    messages: list[Message] = []
    requested = False
    never = asyncio.Event()

    async def receive() -> Message:
        nonlocal requested
        if requested:  # a streaming answer listens for a disconnect: none comes
            await never.wait()
        requested = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    await middleware(scope, receive, send)
    return messages


@pytest.mark.parametrize("accept", [b"gzip, deflate, br", b"identity", None], ids=str)
@pytest.mark.parametrize("kind", KINDS)
async def test_every_answer_is_starlettes(kind: str, accept: bytes | None) -> None:
    ours = await _sent(SmallAnswerGZipMiddleware(_app(kind), minimum_size=1024), accept)
    theirs = await _sent(GZipMiddleware(_app(kind), minimum_size=1024), accept)
    assert ours == theirs


async def test_a_large_answer_to_a_gzip_client_is_compressed() -> None:
    import gzip

    start, body = await _sent(
        SmallAnswerGZipMiddleware(_app("large json"), minimum_size=1024), b"gzip"
    )
    assert (b"content-encoding", b"gzip") in start["headers"]
    assert (b"vary", b"Accept-Encoding") in start["headers"]
    assert gzip.decompress(body["body"]) == LARGE
