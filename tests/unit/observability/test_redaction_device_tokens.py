"""Device tokens (`dt_...`, returned by login) are masked by shape, like refresh tokens."""

from __future__ import annotations

import pytest

from authapi.auth.tokens import new_device_token
from authapi.observability.redaction import REDACTED, redact

pytestmark = pytest.mark.unit


def test_a_device_token_in_free_text_is_masked() -> None:
    token = new_device_token()
    masked = redact({"message": f"client sent {token} again", "detail": [token]})
    assert token not in str(masked)
    assert masked["message"] == f"client sent {REDACTED} again"
