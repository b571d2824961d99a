"""RFC 6238 TOTP through pyotp: 30 s steps, 6 digits, SHA-1 (what every authenticator app reads).

The time is always the app's clock (tests move it); which step matched is returned, so the
caller can refuse a step at or before the last one accepted (a code is never accepted twice).

pyotp and segno are imported by the functions that use them, not here: a cold start that serves
no MFA request (most of them) does not pay for loading them.
"""

from __future__ import annotations

import hmac
from datetime import datetime

STEP_SECONDS = 30
DIGITS = 6
SECRET_BASE32_CHARS = 32  # 160 bits, RFC 4226 section 4's recommendation


def new_secret() -> str:
    import pyotp

    return pyotp.random_base32(length=SECRET_BASE32_CHARS)


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """The `otpauth://totp/...` URI authenticator apps import."""
    import pyotp

    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """The URI as a QR code, an SVG document (segno: no image library needed)."""
    import segno

    return str(segno.make(uri, error="m").svg_inline(scale=4))


def matching_step(secret: str, code: str, *, now: datetime, drift_steps: int) -> int | None:
    """The time step whose code is `code`, within `drift_steps` of `now`'s either side, or None.

    Every candidate is compared (constant time each), so the answer's timing says nothing about
    which step matched.
    """
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    import pyotp

    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    matched: int | None = None
    for offset in range(-drift_steps, drift_steps + 1):
        moment = now.timestamp() + offset * STEP_SECONDS
        if hmac.compare_digest(totp.at(moment), code):
            matched = totp.timecode(datetime.fromtimestamp(moment, tz=now.tzinfo))
    return matched
