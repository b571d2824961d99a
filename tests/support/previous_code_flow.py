"""Run by tests/integration/test_previous_code_on_new_schema.py in a process of its own, with an
older commit's `authapi` first on the path: a whole session through that code's app, printed as
JSON. Standalone on purpose: it must import no `authapi` but the old one, and no test helper.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid

import httpx


async def main() -> None:
    import authapi
    from authapi.app import create_app
    from authapi.config import Settings

    app = create_app(Settings())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    statuses: dict[str, int] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://previous") as client:
        email, password = f"old-code-{uuid.uuid4().hex[:12]}@example.com", "correct horse battery"
        credentials = {"email": email, "password": password}
        register = await client.post("/api/auth/register", json=credentials)
        statuses["register"] = register.status_code
        login = await client.post("/api/auth/login", json=credentials)
        statuses["login"] = login.status_code
        tokens = login.json()
        bearer = {"Authorization": f"Bearer {tokens.get('access_token')}"}
        statuses["me"] = (await client.get("/api/auth/me", headers=bearer)).status_code
        refresh = await client.post(
            "/api/auth/refresh-token", json={"refresh_token": tokens.get("refresh_token")}
        )
        statuses["refresh"] = refresh.status_code
        bearer = {"Authorization": f"Bearer {refresh.json().get('access_token')}"}
        statuses["logout"] = (await client.post("/api/auth/logout", headers=bearer)).status_code
        statuses["me after logout"] = (await client.get("/api/auth/me", headers=bearer)).status_code
    json.dump({"authapi": authapi.__file__, "statuses": statuses}, sys.stdout)


asyncio.run(main())
