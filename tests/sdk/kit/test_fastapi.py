"""`require_user` beyond the example: a sync verifier, an app without `install`, misuse."""

# no `from __future__ import annotations`: FastAPI must resolve the route's local Annotated alias
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI

from authapi_client.fastapi import Introspector, require_user
from authapi_client.verify import Claims, TokenVerifier
from tests.sdk.kit.service import BlockingService, Service

pytestmark = pytest.mark.integration


def _app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()  # no install(app): FastAPI's own HTTPException answer

    @app.get("/me")
    async def me(user: Annotated[Claims, Depends(require_user(verifier))]) -> dict[str, str]:
        return {"sub": user.sub}

    return app


async def test_a_sync_verifier_works_and_without_install_the_answer_keeps_its_status_and_header(
    blocking_service: BlockingService,
) -> None:
    account = blocking_service.account()
    transport = httpx.ASGITransport(app=_app(blocking_service.verifier()))
    async with httpx.AsyncClient(transport=transport, base_url="http://rs") as client:
        good = await client.get("/me", headers={"authorization": f"Bearer {account.access_token}"})
        forged = blocking_service.forge.alg_none(blocking_service.forge.claims())
        bad = await client.get("/me", headers={"authorization": f"Bearer {forged}"})

    assert good.status_code == 200
    assert good.json() == {"sub": account.user_id}
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert bad.json()["detail"]["code"] == "invalid_token"


def test_online_without_an_introspector_and_the_reverse_are_refused(service: Service) -> None:
    verifier = service.verifier()
    with pytest.raises(ValueError, match="introspector"):
        require_user(verifier, online=True)
    introspector = Introspector(
        "http://x/i", client_id="rs", client_secret="cs_secret", http=service.http
    )
    with pytest.raises(ValueError, match="online=True"):
        require_user(verifier, introspector=introspector)
    assert "cs_secret" not in repr(introspector)
