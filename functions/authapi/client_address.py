"""The trusted client address: who is calling, by what our own front door saw, never by what the
caller claims. Rate limits, logs and (later) sessions and audit all ask this one function.

X-Forwarded-For is written by the client unless a proxy we trust overwrites it, so it is only
read where such a proxy is known to sit: behind an ALB, whose own entry is the last one (in its
`append` mode, the default; `preserve` would leave the client's header as it came). Whatever the
source, only a syntactically valid IP address is an address: anything else is no address at all,
which callers must refuse rather than share one bucket for.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from starlette.types import Scope

# IPv6 hands a single subscriber a /64 (RFC 6177): one client, however many addresses it rotates
IPV6_CLIENT_PREFIX = 64
# set by authapi.middleware.edge_origin when our CloudFront edge vouched for the viewer address
VIEWER_ADDRESS_SCOPE_KEY = "authapi.viewer_address"


def client_ip(scope: Scope) -> str | None:
    """The caller's address in its canonical form, or None when the front door gave none."""
    viewer = scope.get(VIEWER_ADDRESS_SCOPE_KEY)
    if isinstance(viewer, str):
        return viewer  # CloudFront's CloudFront-Viewer-Address, with the origin secret
    event: Any = scope.get("aws.event")
    if isinstance(event, dict):
        request_context = event.get("requestContext") or {}
        http = request_context.get("http")  # HTTP API (payload 2.0) and function URLs
        if isinstance(http, dict) and http.get("sourceIp"):
            return canonical_address(http["sourceIp"])
        identity = request_context.get("identity")  # REST API (payload 1.0)
        if isinstance(identity, dict) and identity.get("sourceIp"):
            return canonical_address(identity["sourceIp"])
        if "elb" in request_context:
            return canonical_address(_alb_forwarded_for(event).rsplit(",", 1)[-1])
    client = scope.get("client")
    return canonical_address(client[0]) if client else None


def _alb_forwarded_for(event: dict[str, Any]) -> str:
    """The X-Forwarded-For an ALB passed on, in whichever header shape the target group uses."""
    # with multi-value headers on, `headers` is absent and every value of a repeated header
    # is kept in order: the ALB's own entry is still the last
    values = (event.get("multiValueHeaders") or {}).get("x-forwarded-for")
    if isinstance(values, list) and values:
        return str(values[-1])
    return str((event.get("headers") or {}).get("x-forwarded-for", ""))


def viewer_address(header: str | None) -> str | None:
    """The address in CloudFront-Viewer-Address, `<ip>:<port>` (IPv6 unbracketed), or None."""
    if not header or ":" not in header:
        return None
    return canonical_address(header.rsplit(":", 1)[0])


def canonical_address(value: object) -> str | None:
    """`value` as a canonical IP address (IPv4-mapped IPv6 as IPv4, no zone), or None."""
    text = str(value).strip()
    if not text or len(text) > 64:  # the longest IPv6 text with a zone is far shorter
        return None
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def client_network(address: str) -> str:
    """What limits count a client by: an IPv4 address, or the /64 an IPv6 address sits in."""
    parsed = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, IPV6_CLIENT_PREFIX), strict=False))
    return str(parsed)
