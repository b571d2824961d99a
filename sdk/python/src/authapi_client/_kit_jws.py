"""Compact JWS (RFC 7515) for the one algorithm authapi signs with: split, read the header,
verify RS256. Nothing else is ever accepted, so no token can choose how it is checked.

Private to the resource-server kit (`authapi_client.verify` turns `Malformed` into its own
`TokenInvalid`). The checks mirror the service's own (functions/authapi/auth/jws.py and
auth/tokens.py), one notch stricter where it costs nothing: segments must be canonical
base64url and JSON objects may not repeat a member.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ALGORITHM = "RS256"
ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068: an ID token or a plain JWT never passes as an access token
# headers that would let a token pick its own verification key: always refused
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c"})
# extensions we never issue (RFC 7515 section 4.1.11, RFC 7797): refused rather than understood
UNSUPPORTED_HEADERS = frozenset({"crit", "b64"})
# far above any token authapi issues (about 1 KB): a bigger one is refused before any decoding
MAX_TOKEN_LENGTH = 8192

_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")  # base64url without padding (RFC 7515 section 2)


class Malformed(ValueError):
    """Why a token was refused: a short fixed reason, never any part of the token."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def b64url_decode(segment: str, name: str) -> bytes:
    """Strict base64url: the alphabet only, no padding, and the canonical encoding of its bytes
    (unused trailing bits zero), so a token has exactly one spelling."""
    if len(segment) % 4 == 1 or _SEGMENT.fullmatch(segment) is None:
        raise Malformed(f"{name} is not base64url")
    try:
        data = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except binascii.Error as error:
        raise Malformed(f"{name} is not base64url") from error
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode() != segment:
        raise Malformed(f"{name} is not canonical base64url")
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("a member is repeated")
    return members


def json_object(data: bytes, name: str) -> dict[str, Any]:
    try:
        value = json.loads(data, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError, UnicodeDecodeError) as error:
        raise Malformed(f"{name} is not a JSON object") from error
    if not isinstance(value, dict):
        raise Malformed(f"{name} is not a JSON object")
    return value


@dataclass(frozen=True)
class CompactJws:
    """A token split and its header checked; nothing in the payload is trusted before
    `verified_payload`."""

    kid: str
    signing_input: bytes
    payload_segment: str
    signature: bytes


def parse(token: str) -> CompactJws:
    """Split `token` and check its header: RS256, `at+jwt`, a `kid`, nothing that would let it
    name its own key. All of it before any key is looked up or fetched."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise Malformed("token too long")
    parts = token.split(".")
    if len(parts) != 3:
        raise Malformed("not a compact JWS")
    header_segment, payload_segment, signature_segment = parts
    header = json_object(b64url_decode(header_segment, "header"), "header")
    if header.get("alg") != ALGORITHM:
        raise Malformed("algorithm not allowed")
    if header.get("typ") != ACCESS_TOKEN_TYPE:
        raise Malformed("not an access token (typ)")
    if FORBIDDEN_HEADERS.intersection(header) or UNSUPPORTED_HEADERS.intersection(header):
        raise Malformed("header not allowed")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Malformed("no key id")
    signature = b64url_decode(signature_segment, "signature")
    if _SEGMENT.fullmatch(payload_segment) is None:
        raise Malformed("payload is not base64url")
    signing_input = f"{header_segment}.{payload_segment}".encode("ascii")
    return CompactJws(kid, signing_input, payload_segment, signature)


def verified_payload(jws: CompactJws, public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    """The payload, once the RS256 signature over header and payload checks out."""
    try:
        public_key.verify(jws.signature, jws.signing_input, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as error:
        raise Malformed("bad signature") from error
    return json_object(b64url_decode(jws.payload_segment, "payload"), "payload")
