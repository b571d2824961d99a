"""The OAuth endpoints (/api/v1/oauth/*: RFC 6749, 7009, 7662) as `Call`s."""

from __future__ import annotations

from authapi_client.calls import Answer, Call, nothing
from authapi_client.models import Introspection, OAuthToken


def _client_form(client_id: str | None, client_secret: str | None) -> dict[str, str]:
    # a confidential client authenticates with Basic (client_auth); a public one names itself
    return {"client_id": client_id} if client_id is not None and client_secret is None else {}


def _basic(client_id: str | None, client_secret: str | None) -> tuple[str, str] | None:
    return (client_id, client_secret) if client_id is not None and client_secret else None


def token(
    form: dict[str, str], client_id: str | None, client_secret: str | None
) -> Call[OAuthToken]:
    def read(answer: Answer) -> OAuthToken:
        body = answer.json()
        return OAuthToken(
            body["access_token"], body["refresh_token"], body["expires_in"], body["token_type"]
        )

    return Call(
        "POST",
        "/oauth/token",
        read,
        form={**form, **_client_form(client_id, client_secret)},
        client_auth=_basic(client_id, client_secret),
    )


def revoke(
    token: str, hint: str | None, client_id: str | None, client_secret: str | None
) -> Call[None]:
    form = {"token": token, **({"token_type_hint": hint} if hint else {})}
    return Call(
        "POST",
        "/oauth/revoke",
        nothing,
        form={**form, **_client_form(client_id, client_secret)},
        client_auth=_basic(client_id, client_secret),
        idempotent=True,  # RFC 7009: the same 200 whatever the token's state
    )


def introspect(
    token: str, hint: str | None, client_id: str, client_secret: str
) -> Call[Introspection]:
    def read(answer: Answer) -> Introspection:
        body = dict(answer.json())
        return Introspection(active=bool(body.pop("active", False)), claims=body)

    form = {"token": token, **({"token_type_hint": hint} if hint else {})}
    return Call(
        "POST",
        "/oauth/introspect",
        read,
        form=form,
        client_auth=(client_id, client_secret),
        idempotent=True,  # a read
    )
