"""Accept authapi access tokens in a FastAPI service.

    from authapi_client.fastapi import install, require_user
    from authapi_client.verify import AsyncTokenVerifier, Claims

    verifier = AsyncTokenVerifier(issuer=..., audience=..., jwks_url=...)
    CurrentUser = Annotated[Claims, Depends(require_user(verifier))]

    app = FastAPI()
    install(app)  # 401s as problem+json, like authapi's own

    @app.get("/things")
    async def things(user: CurrentUser) -> ...: ...

A missing token answers 401 `not_authenticated` with `WWW-Authenticate: Bearer`; a bad or
expired one 401 `invalid_token` with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750
section 3, and exactly what authapi answers). Routes that must see a logout at once add the
online check: `require_user(verifier, online=True, introspector=Introspector(...))` asks the
service's introspection endpoint on every request, and answers 503 `auth_unavailable` when it
cannot (fail closed).

Without `install(app)` the answers keep their status and headers, with the problem under
FastAPI's `{"detail": ...}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from authapi_client._kit_introspection import IntrospectionUnavailable, Introspector
from authapi_client.verify import (
    AsyncTokenVerifier,
    Claims,
    JwksUnavailable,
    TokenExpired,
    TokenInvalid,
    TokenVerifier,
)

__all__ = ["RESPONSES", "AuthProblem", "Introspector", "install", "require_user"]

PROBLEM_MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = 5


class AuthProblem(HTTPException):
    """An RFC 9457 problem with authapi's stable `code`; `install` renders it as problem+json."""

    def __init__(self, status: int, code: str, title: str, detail: str, headers: dict[str, str]):
        self.code = code
        self.title = title
        self.body = {
            "type": f"urn:authapi:problem:{code}",
            "title": title,
            "status": status,
            "detail": detail,
            "code": code,
        }
        super().__init__(status_code=status, detail=self.body, headers=headers)


def _not_authenticated() -> AuthProblem:
    return AuthProblem(
        401,
        "not_authenticated",
        "Not authenticated",
        "A valid bearer access token is required.",
        {"WWW-Authenticate": "Bearer"},
    )


def _invalid_token(detail: str) -> AuthProblem:
    return AuthProblem(
        401,
        "invalid_token",
        "Invalid access token",
        detail,
        {"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def _unavailable() -> AuthProblem:
    return AuthProblem(
        503,
        "auth_unavailable",
        "Authentication unavailable",
        "The token could not be checked with authapi just now; retry shortly.",
        {"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _problem_response(request: Request, error: Exception) -> Response:
    if not isinstance(error, AuthProblem):  # registered for AuthProblem alone
        raise error
    return JSONResponse(
        error.body,
        status_code=error.status_code,
        headers={**(error.headers or {}), "Cache-Control": "no-store"},
        media_type=PROBLEM_MEDIA_TYPE,
    )


def install(app: FastAPI) -> None:
    """Render the kit's refusals as problem+json."""
    app.add_exception_handler(AuthProblem, _problem_response)


def _schema(codes: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string", "enum": codes},
        },
    }


# OpenAPI `responses=` for a route that requires a user: what it may answer, codes as an enum
RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {
        "description": "`not_authenticated`: no bearer token; `invalid_token`: a bad, expired "
        "or (with the online check) ended one",
        "content": {
            PROBLEM_MEDIA_TYPE: {"schema": _schema(["not_authenticated", "invalid_token"])}
        },
    },
    503: {
        "description": "`auth_unavailable`: authapi could not be asked (retry)",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": _schema(["auth_unavailable"])}},
    },
}

_bearer = HTTPBearer(auto_error=False)  # also lists the Bearer scheme in the OpenAPI


def require_user(
    verifier: AsyncTokenVerifier | TokenVerifier,
    *,
    online: bool = False,
    introspector: Introspector | None = None,
) -> Callable[..., Awaitable[Claims]]:
    """A dependency giving the caller's verified claims, or answering 401.

    Args:
        verifier: checks the token offline, against the service's JWKS. A sync `TokenVerifier`
            runs in the thread pool; prefer the async one.
        online: also ask the service, through `introspector`, whether the session is still
            live, so a logout is seen at once (one request to authapi per call).
    """
    if online and introspector is None:
        raise ValueError("the online check needs an introspector")
    if introspector is not None and not online:
        raise ValueError("an introspector is only used with online=True")

    async def current_user(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Claims:
        if credentials is None:
            raise _not_authenticated()
        token = credentials.credentials
        try:
            if isinstance(verifier, AsyncTokenVerifier):
                claims = await verifier.verify(token)
            else:
                claims = await run_in_threadpool(verifier.verify, token)
        except TokenExpired:
            raise _invalid_token("The access token has expired.") from None
        except TokenInvalid:
            raise _invalid_token(
                "The access token is malformed, expired, revoked or not ours."
            ) from None
        except JwksUnavailable:
            raise _unavailable() from None
        if introspector is not None:
            try:
                active = await introspector.is_active(token, claims)
            except IntrospectionUnavailable:
                raise _unavailable() from None
            if not active:
                raise _invalid_token("The session of this access token has ended.")
        return claims

    return current_user
