"""Which paths are a tenant's (authapi.middleware.tenant_path.split_tenant_path)."""

from __future__ import annotations

import pytest

from authapi.middleware.tenant_path import split_tenant_path

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/t/acme/api/v1/auth/me", ("acme", "/api/v1/auth/me")),
        ("/t/acme/api/v1/oauth/token", ("acme", "/api/v1/oauth/token")),
        ("/t/acme/.well-known/jwks.json", ("acme", "/.well-known/jwks.json")),
        (
            "/.well-known/oauth-authorization-server/t/acme",
            ("acme", "/.well-known/oauth-authorization-server"),
        ),
        # ids are checked by the middleware itself (one 404 for every bad one)
        ("/t/Not_An_Id/api/v1/auth/me", ("Not_An_Id", "/api/v1/auth/me")),
        # not a tenant's: the router answers them as it answers any other path
        ("/api/v1/auth/me", None),
        ("/t/acme/api/auth/login", None),  # the deprecated aliases are the default's alone
        ("/t/acme/api/v1", None),
        ("/t/acme", None),
        ("/t//api/v1/auth/me", None),
        ("/t/acme/docs", None),
        ("/.well-known/oauth-authorization-server/t/acme/extra", None),
        ("/.well-known/oauth-authorization-server/t/", None),
        ("/tenants/acme/api/v1/auth/me", None),
    ],
)
def test_split_tenant_path(path: str, expected: tuple[str, str] | None) -> None:
    assert split_tenant_path(path) == expected
