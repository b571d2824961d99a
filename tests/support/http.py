"""The one way tests call the service: one client, two faces, three transports.

`ApiClient` (async) and `SyncApiClient` (sync) take httpx's request arguments (`json`,
`content`, `data`, `files`, `params`, `headers`, raw and repeated headers included) plus `token=`
for a bearer token, and answer a `Reply`. Either face runs over:

- `asgi(app)`: the app in process, through httpx's ASGI transport;
- `aws_lambda(lambda_app)`: each request becomes the API Gateway HTTP API (payload 2.0) event API
  Gateway would build, passed to the Lambda handler with a fake context; one at a time, like one
  execution environment (`send_event` passes any other event shape as it is);
- `http(base_url)`: a server on a real socket, such as the local cloud.

So one test body can run against the app, the handler and a running server. `gather(n, call)`
(async) and `concurrently(n, call)` (sync, on threads) make N calls at once.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json as json_module
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, TypeVar, Unpack

import httpx

from authapi.resources import app_resources
from devtools.lambda_events import FakeLambdaContext, http_api_event, response_body
from tests.support.loops import BackgroundLoop

if TYPE_CHECKING:
    from fastapi import FastAPI

    from authapi.handlers.lambda_app import LambdaApp

T = TypeVar("T")
Headers = Mapping[str, str] | Sequence[tuple[str, str]]
Content = bytes | str | AsyncIterator[bytes]

ASGI_BASE_URL = "http://testserver"
LAMBDA_BASE_URL = "http://127.0.0.1:8000"  # the domain API Gateway's stand-in reports
DEFAULT_CLIENT_IP = "127.0.0.1"
# the hop-by-hop headers API Gateway does not pass on to the integration
_NOT_FORWARDED = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade"})
_UNSET: Any = object()  # `json=None` sends JSON null; leaving `json` out sends no JSON


@dataclass(frozen=True)
class Reply:
    """An answer, whichever transport carried it."""

    status: int
    headers: Mapping[str, str]  # names in lower case; repeated headers joined with ", "
    content: bytes
    request_headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # as sent

    @cached_property
    def body(self) -> Any:
        """The parsed JSON body; None when the body is empty."""
        return json_module.loads(self.content) if self.content else None

    @property
    def text(self) -> str:
        return self.content.decode()

    @property
    def code(self) -> str | None:
        """A problem's `code`."""
        body = self.body if self.content[:1] == b"{" else None
        return body.get("code") if isinstance(body, dict) else None

    @classmethod
    def of(cls, response: httpx.Response) -> Reply:
        return cls(
            status=response.status_code,
            headers=dict(response.headers.items()),
            content=response.content,
            request_headers=dict(response.request.headers.items()),
        )

    @classmethod
    def of_lambda(cls, response: dict[str, Any], request_headers: Mapping[str, str]) -> Reply:
        headers = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[name.lower()] = ", ".join(values)
        if response.get("cookies"):
            headers["set-cookie"] = ", ".join(response["cookies"])
        return cls(
            status=int(response["statusCode"]),
            headers=headers,
            content=response_body(response),
            request_headers=dict(request_headers),
        )


class RequestOptions(TypedDict, total=False):
    json: Any
    content: Content | None
    data: Mapping[str, Any] | None
    files: Mapping[str, Any] | None
    params: Mapping[str, str] | None
    headers: Headers | None
    token: str | None


def build_request(
    base_url: str,
    method: str,
    path: str,
    *,
    json: Any = _UNSET,
    content: Content | None = None,
    data: Mapping[str, Any] | None = None,
    files: Mapping[str, Any] | None = None,
    params: Mapping[str, str] | None = None,
    headers: Headers | None = None,
    token: str | None = None,
) -> httpx.Request:
    """The request, exactly as it will be sent: httpx encodes bodies and computes lengths."""
    sent = list(headers.items()) if isinstance(headers, Mapping) else list(headers or ())
    if token is not None:
        sent.append(("authorization", f"Bearer {token}"))
    if json is not _UNSET:
        content = json_module.dumps(json).encode()
        if not any(name.lower() == "content-type" for name, _ in sent):
            sent.append(("content-type", "application/json"))
    return httpx.Request(
        method,
        base_url + path,
        params=params,
        headers=sent,
        content=content,
        data=data,
        files=files,
    )


class Transport(Protocol):
    base_url: str

    async def send(self, request: httpx.Request) -> Reply: ...

    async def aclose(self) -> None: ...


class BlockingTransport(Protocol):
    base_url: str

    def send(self, request: httpx.Request) -> Reply: ...

    def close(self) -> None: ...


class ApiClient:
    """The async face: `await client.post(path, json=...)`."""

    def __init__(self, transport: Transport):
        self.transport = transport

    @classmethod
    def asgi(cls, app: FastAPI, *, client_ip: str = DEFAULT_CLIENT_IP) -> ApiClient:
        """The app on the running loop. The app stays the caller's to close."""
        return cls(_Asgi(app, client_ip))

    @classmethod
    def aws_lambda(cls, lambda_app: LambdaApp, *, client_ip: str = DEFAULT_CLIENT_IP) -> ApiClient:
        """The handler, invoked on a worker thread (it runs its own loop). Not closed here."""
        return cls(_AsyncLambda(_Lambda(lambda_app, client_ip)))

    @classmethod
    def http(cls, base_url: str) -> ApiClient:
        return cls(_AsyncSocket(base_url))

    async def request(self, method: str, path: str, **options: Unpack[RequestOptions]) -> Reply:
        return await self.transport.send(
            build_request(self.transport.base_url, method, path, **options)
        )

    async def get(self, path: str, **options: Unpack[RequestOptions]) -> Reply:
        return await self.request("GET", path, **options)

    async def post(self, path: str, **options: Unpack[RequestOptions]) -> Reply:
        return await self.request("POST", path, **options)

    async def options(self, path: str, **options: Unpack[RequestOptions]) -> Reply:
        return await self.request("OPTIONS", path, **options)

    async def gather(self, n: int, call: Callable[[], Awaitable[T]]) -> list[T]:
        """`call()` n times at once; the results in order."""
        return list(await asyncio.gather(*(call() for _ in range(n))))

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


class SyncApiClient:
    """The sync face: `api.post(path, json=...)`, from plain tests and from any thread."""

    def __init__(self, transport: BlockingTransport):
        self.transport = transport

    @classmethod
    def asgi(cls, app: FastAPI, *, client_ip: str = DEFAULT_CLIENT_IP) -> SyncApiClient:
        """The app on a loop of the client's own; closing the client releases the app too."""
        return cls(_BlockingAsgi(app, client_ip))

    @classmethod
    def aws_lambda(
        cls, lambda_app: LambdaApp, *, client_ip: str = DEFAULT_CLIENT_IP
    ) -> SyncApiClient:
        """The handler, invoked in the calling thread. Closing the client leaves it open."""
        return cls(_Lambda(lambda_app, client_ip))

    @classmethod
    def http(cls, base_url: str, *, timeout: float = 10) -> SyncApiClient:
        return cls(_BlockingSocket(base_url, timeout=timeout))

    def request(self, method: str, path: str, **options: Unpack[RequestOptions]) -> Reply:
        return self.transport.send(build_request(self.transport.base_url, method, path, **options))

    def get(self, path: str, **options: Unpack[RequestOptions]) -> Reply:
        return self.request("GET", path, **options)

    def post(self, path: str, **options: Unpack[RequestOptions]) -> Reply:
        return self.request("POST", path, **options)

    def options(self, path: str, **options: Unpack[RequestOptions]) -> Reply:
        return self.request("OPTIONS", path, **options)

    def send_event(self, event: dict[str, Any]) -> Reply:
        """A ready-made Lambda event (REST API, function URL, ALB...) to the handler, as it is."""
        if not isinstance(self.transport, _Lambda):
            raise TypeError("only a Lambda client takes events")
        return self.transport.send_event(event)

    def concurrently(self, n: int, call: Callable[[], T]) -> list[T]:
        """`call()` n times at once, each on its own thread; the results in order."""
        with ThreadPoolExecutor(max_workers=n) as pool:
            futures = [pool.submit(call) for _ in range(n)]
            return [future.result() for future in futures]

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> SyncApiClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _asgi_client(app: FastAPI, client_ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(client_ip, 123))
    return httpx.AsyncClient(transport=transport, base_url=ASGI_BASE_URL)


class _Asgi:
    base_url = ASGI_BASE_URL

    def __init__(self, app: FastAPI, client_ip: str):
        self.client = _asgi_client(app, client_ip)

    async def send(self, request: httpx.Request) -> Reply:
        return Reply.of(await self.client.send(request))

    async def aclose(self) -> None:
        await self.client.aclose()


class _BlockingAsgi:
    """The app on a background loop: any thread can call it, and calls can overlap."""

    base_url = ASGI_BASE_URL

    def __init__(self, app: FastAPI, client_ip: str):
        self.app = app
        self.loop = BackgroundLoop()
        self.client = _asgi_client(app, client_ip)

    def send(self, request: httpx.Request) -> Reply:
        return Reply.of(self.loop.run(self.client.send(request)))

    def close(self) -> None:
        try:
            self.loop.run(self.client.aclose())
            # the app's connections belong to this loop: release them on it
            self.loop.run(app_resources(self.app).aclose())
        finally:
            self.loop.close()


class _Lambda:
    """Requests as HTTP API events, one invocation at a time (one execution environment)."""

    base_url = LAMBDA_BASE_URL

    def __init__(self, lambda_app: LambdaApp, client_ip: str):
        self.lambda_app = lambda_app
        self.client_ip = client_ip
        self.lock = threading.Lock()

    def send(self, request: httpx.Request) -> Reply:
        return self.send_read(request, request.read())

    def send_read(self, request: httpx.Request, body: bytes) -> Reply:
        headers: dict[str, str] = {}
        for name, value in request.headers.multi_items():
            if name not in _NOT_FORWARDED:
                # API Gateway joins repeated headers with commas, as HTTP allows
                headers[name] = f"{headers[name]},{value}" if name in headers else value
        event = http_api_event(
            request.method,
            request.url.path,
            headers=headers,
            body=body,
            query=request.url.query.decode(),
            source_ip=self.client_ip,
            domain=request.url.netloc.decode(),
        )
        return self.send_event(event, request_headers=headers)

    def send_event(
        self, event: dict[str, Any], *, request_headers: Mapping[str, str] | None = None
    ) -> Reply:
        with self.lock:
            # Mangum and Powertools each declare their own LambdaContext protocol
            response = self.lambda_app.handler(event, FakeLambdaContext())  # type: ignore[arg-type]
        return Reply.of_lambda(response, request_headers or event.get("headers") or {})

    def close(self) -> None:
        pass  # the handler is its builder's to close


class _AsyncLambda:
    base_url = LAMBDA_BASE_URL

    def __init__(self, invoker: _Lambda):
        self.invoker = invoker

    async def send(self, request: httpx.Request) -> Reply:
        body = await request.aread()
        return await asyncio.to_thread(self.invoker.send_read, request, body)

    async def aclose(self) -> None:
        pass


# one connection per request: each call sees the server as a new client does (the local cloud's
# keep-alive handling has tests of its own in tests/devtools)
_ONE_SHOT = httpx.Limits(max_keepalive_connections=0)


class _BlockingSocket:
    def __init__(self, base_url: str, *, timeout: float = 10):
        self.base_url = base_url.rstrip("/")
        self.client = httpx.Client(timeout=timeout, limits=_ONE_SHOT)

    def send(self, request: httpx.Request) -> Reply:
        return Reply.of(self.client.send(request))

    def close(self) -> None:
        self.client.close()


class _AsyncSocket:
    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.client = httpx.AsyncClient(timeout=10, limits=_ONE_SHOT)

    async def send(self, request: httpx.Request) -> Reply:
        return Reply.of(await self.client.send(request))

    async def aclose(self) -> None:
        await self.client.aclose()


@asynccontextmanager
async def serving(app: FastAPI, *, client_ip: str = DEFAULT_CLIENT_IP) -> AsyncIterator[ApiClient]:
    """A client of an app the test built itself, whose connections are released afterwards."""
    try:
        async with ApiClient.asgi(app, client_ip=client_ip) as client:
            yield client
    finally:
        await app_resources(app).aclose()


def unique_client_ip() -> str:
    """An address in 10.0.0.0/8 no other client of this session is likely to have."""
    return str(ipaddress.IPv4Address(0x0A000000 | (uuid.uuid4().int & 0xFFFFFF)))


class ClientWith(Protocol):
    """The `client_with` fixture: `async with client_with(clock=..., rate_limit_login=1) as c:`.

    Keywords: `clock` (an `authapi.clock.Clock`), `client_ip` (the address the app sees), and any
    `Settings` field. Typed loosely so a dict of settings can be passed with `**`; the fixture
    refuses names that are none of these.
    """

    def __call__(self, **options: Any) -> AbstractAsyncContextManager[ApiClient]: ...
