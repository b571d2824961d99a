"""The example resource server: a FastAPI service of your own that accepts authapi's tokens.

Run it (see README.md for the settings):

    uvicorn --factory resource_server.app:from_environment --port 8001

`GET /whoami` verifies the token offline, against authapi's JWKS: no call to authapi per
request, but a logged-out session's token passes until it expires (at most 30 minutes).
`POST /account/email` stands for what must honour a logout at once: it also asks authapi's
introspection endpoint, with the credentials of a confidential OAuth client.
"""

# no `from __future__ import annotations`: FastAPI must see the aliases made inside create_app
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI

from authapi_client.fastapi import RESPONSES, Introspector, install, require_user
from authapi_client.verify import AsyncTokenVerifier, Claims


def create_app(verifier: AsyncTokenVerifier, introspector: Introspector | None = None) -> FastAPI:
    """The service, on the verifier (and introspector) it is given; it closes them on shutdown."""
    CurrentUser = Annotated[Claims, Depends(require_user(verifier))]

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await verifier.aclose()
        if introspector is not None:
            await introspector.aclose()

    app = FastAPI(title="Example resource server", lifespan=lifespan)
    install(app)

    @app.get("/whoami", responses=RESPONSES)
    async def whoami(user: CurrentUser) -> dict[str, Any]:
        """Who the caller is, from the access token alone."""
        return {"sub": user.sub, "amr": list(user.amr), "aal": user.aal, "checked": "offline"}

    if introspector is not None:
        LiveUser = Annotated[
            Claims, Depends(require_user(verifier, online=True, introspector=introspector))
        ]

        @app.post("/account/email", responses=RESPONSES)
        async def change_email(user: LiveUser) -> dict[str, Any]:
            """Something that must not be done for a session that has logged out."""
            return {"sub": user.sub, "checked": "online"}

    return app


def from_environment() -> FastAPI:
    """The service configured from AUTHAPI_* variables (README.md)."""
    base = os.environ.get("AUTHAPI_URL", "http://127.0.0.1:8000").rstrip("/")
    verifier = AsyncTokenVerifier(
        issuer=os.environ.get("AUTHAPI_ISSUER", "authapi"),
        audience=os.environ.get("AUTHAPI_AUDIENCE", "authapi"),
        jwks_url=os.environ.get("AUTHAPI_JWKS_URL", base + "/.well-known/jwks.json"),
    )
    client_id = os.environ.get("AUTHAPI_CLIENT_ID")
    introspector = None
    if client_id:
        introspector = Introspector(
            base + "/api/v1/oauth/introspect",
            client_id=client_id,
            client_secret=os.environ["AUTHAPI_CLIENT_SECRET"],
        )
    return create_app(verifier, introspector)
