"""Behind CloudFront: the viewer's address, trusted only from our own edge.

API Gateway's `sourceIp` is then CloudFront's address, one of a few edge servers shared by
everyone: rate limits, sessions and logs would lump all clients together. CloudFront sends the
viewer's address in `CloudFront-Viewer-Address`, but anyone can send that header to the API's
own URL too. The edge template adds a secret origin header, `X-Origin-Verify`: only a request
carrying the right value (compared in constant time) has its viewer address used, which
`authapi.client_address.client_ip` then returns. The secret itself goes no further: the header is
removed from the request before anything else (a log line, a handler) can see it.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import Scope

from authapi.client_address import VIEWER_ADDRESS_SCOPE_KEY, viewer_address

ORIGIN_VERIFY_HEADER = "x-origin-verify"
VIEWER_ADDRESS_HEADER = "cloudfront-viewer-address"

logger = logging.getLogger(__name__)

OriginSecret = Callable[[], Awaitable[str | None]]
"""The expected X-Origin-Verify value, or None when no edge is configured."""


class EdgeOrigin:
    """Run first on every request, by `authapi.middleware.front`."""

    def __init__(self, origin_secret: OriginSecret):
        self._origin_secret = origin_secret

    async def admit(self, scope: Scope) -> None:
        """The secret header taken out of `scope`; the viewer's address kept if it was right."""
        presented = _take_header(scope, ORIGIN_VERIFY_HEADER)
        if presented is not None and await self._verified(presented):
            address = viewer_address(_header(scope, VIEWER_ADDRESS_HEADER))
            if address is not None:
                scope[VIEWER_ADDRESS_SCOPE_KEY] = address

    async def _verified(self, presented: bytes) -> bool:
        try:
            secret = await self._origin_secret()
        except Exception:
            # no secret to compare with (SSM down at a cold start): the edge's address it is,
            # as without an edge; the request itself goes on and fails or not on its own
            logger.warning("origin-verify secret unavailable; viewer address not trusted")
            return False
        return secret is not None and hmac.compare_digest(presented, secret.encode())


def _header(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name.encode():
            return bytes(value).decode("latin-1")
    return None


def _take_header(scope: Scope, name: str) -> bytes | None:
    """The header's value, removed from the ASGI headers and from the Lambda event."""
    wanted = name.encode()
    found: bytes | None = None
    kept = []
    for key, value in scope.get("headers", ()):
        if key == wanted:
            found = bytes(value)
        else:
            kept.append((key, value))
    if found is None:
        return None
    scope["headers"] = kept
    event: Any = scope.get("aws.event")
    if isinstance(event, dict):
        for field in ("headers", "multiValueHeaders"):
            headers = event.get(field)
            if isinstance(headers, dict):
                for key in [k for k in headers if str(k).lower() == name]:
                    del headers[key]
    return found
