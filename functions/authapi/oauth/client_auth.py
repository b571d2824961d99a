"""Who the client is (RFC 6749 section 2.3): a public client names itself with `client_id` in the
body; a confidential one authenticates with `client_secret_basic` (HTTP Basic, section 2.3.1),
its secret checked in constant time against the registry's HMAC (signing/clients.py).

Only those two methods: `client_secret_post` is refused, so a secret never sits in a body that
a framework might log or echo.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from fastapi import Request

from authapi.config import Settings
from authapi.exceptions import InvalidClientError, InvalidRequestError
from authapi.oauth.forms import OAuthForm
from authapi.signing.clients import OAuthClient
from authapi.signing.keys import KeyRing

AUTH_METHODS = ("none", "client_secret_basic")  # RFC 8414's names of what this accepts


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise InvalidClientError(through_header=True, detail="Use HTTP Basic client credentials.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClientError(through_header=True) from None
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise InvalidClientError(through_header=True)
    # section 2.3.1: both are form-urlencoded before they are joined
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


def authenticate_client(
    request: Request,
    form: OAuthForm,
    *,
    key_ring: KeyRing,
    settings: Settings,
    confidential_only: bool = False,
) -> OAuthClient:
    """The registered client behind this request, or InvalidClientError."""
    registry = key_ring.clients
    header = request.headers.get("authorization")
    if header is not None:
        client_id, secret = _basic_credentials(header)
        if form.get("client_id", client_id) != client_id:
            raise InvalidRequestError("client_id differs from the authenticated client.")
        if "client_secret" in form:
            raise InvalidRequestError("Use one client authentication method, not two.")
        client = registry.get(client_id, default_client_id=settings.default_client_id)
        if client is None or not client.secret_matches(key_ring.data_keys, secret):
            raise InvalidClientError(through_header=True)
        return client
    if "client_secret" in form:
        raise InvalidClientError(
            through_header=False, detail="Send the client secret with HTTP Basic, not in the body."
        )
    named = form.get("client_id")
    client = registry.get(named, default_client_id=settings.default_client_id) if named else None
    if client is None:
        raise InvalidClientError(through_header=False)
    if client.confidential or confidential_only:
        detail = (
            "This client authenticates with HTTP Basic."
            if client.confidential
            else "Only confidential clients may call this endpoint."
        )
        raise InvalidClientError(through_header=False, detail=detail)
    return client
