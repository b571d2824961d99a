"""Masks secrets in anything about to be logged: by key name, and by shape inside free text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

REDACTED = "[REDACTED]"

# A key whose name contains one of these words holds a secret, whatever its value looks like.
_SECRET_KEY_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "private_key",
    "credential",
    "api_key",
    "database_url",
    "challenge",
    "recovery_code",
)
# Keys that contain a secret word but are known to be harmless metadata.
_HARMLESS_KEYS = frozenset({"token_type", "token_use", "expires_in"})

_TEXT_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization header values
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*"), rf"\1 {REDACTED}"),
    # JWTs anywhere (three base64url segments, header starting with '{"')
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    # our opaque refresh and device tokens and OAuth client secrets carry a prefix precisely so
    # they can be found and masked (mc_: a login's MFA challenge)
    (re.compile(r"\b(?:rt|dt|cs|mc)_[A-Za-z0-9_-]{16,}"), REDACTED),
    # key=value / "key": "value" pairs in messages, query strings and reprs
    (
        re.compile(
            r"(?i)(\b(?:password|passwd|secret|refresh_token|access_token|token|authorization|cookie)"
            r"[\"']?\s*[:=]\s*[\"']?)([^\"'&\s,}]+)"
        ),
        rf"\1{REDACTED}",
    ),
    # credentials inside connection URLs
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+@"), rf"\1{REDACTED}@"),
    # PEM blocks
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
        ),
        REDACTED,
    ),
)


# Every text pattern above needs one of these to match: a string with none of them (a method, a
# path, an id, a timestamp: nearly every value of every line) is left as it is after one search
# instead of six substitutions. A superset only: a hit falls through to the patterns themselves.
_TRIGGER_WORDS = (
    "bearer",
    "basic",
    "eyj",
    "rt_",
    "dt_",
    "cs_",
    "mc_",
    "passw",
    "secret",
    "token",
    "authorization",
    "cookie",
    "://",
    "-----begin",
)
_ANY_PATTERN_TRIGGER = re.compile("(?i)" + "|".join(map(re.escape, _TRIGGER_WORDS)))
# The same search on ASCII text, lowered first: Python's case-insensitive alternation tries every
# word at every position (~20 us for a log line's values), a case-sensitive one skips ahead (~2
# us). Only for ASCII, where lowering is exactly what IGNORECASE folds (beyond it, IGNORECASE
# also folds characters such as U+017F and U+212A that lowering does not).
_ASCII_TRIGGER = re.compile("|".join(map(re.escape, _TRIGGER_WORDS)))


def _may_hold_secret(text: str) -> bool:
    if text.isascii():
        return _ASCII_TRIGGER.search(text.lower()) is not None
    return _ANY_PATTERN_TRIGGER.search(text) is not None


# cached: log lines reuse a few dozen key names (bounded: keys inside logged mappings may vary)
@lru_cache(maxsize=1024)
def is_secret_key(key: str) -> bool:
    lowered = key.lower().replace("-", "_")
    if lowered in _HARMLESS_KEYS:
        return False
    return any(word in lowered for word in _SECRET_KEY_WORDS)


def redact_text(text: str) -> str:
    if not _may_hold_secret(text):
        return text
    for pattern, replacement in _TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any) -> Any:
    """A copy of `value` with secrets masked; containers are walked, other objects stringified."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return _redact_mapping(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


# what `redact` returns as it is, by exact type (a subclass takes the long way, to the same end)
_PLAIN_TYPES = frozenset({bool, int, float, type(None)})


def _redact_mapping(value: Mapping[Any, Any]) -> dict[Any, Any]:
    # A log line's mapping holds a dozen or so strings, nearly always with no trigger in any: one
    # search over all of them instead of one per string (joined by a line break, which no trigger
    # contains: none can match across two). Any trigger: each string is redacted on its own.
    texts = [item for item in value.values() if type(item) is str]
    clean = not _may_hold_secret("\n".join(texts))
    redacted: dict[Any, Any] = {}
    for key, item in value.items():
        if isinstance(key, str) and is_secret_key(key):
            redacted[key] = REDACTED
        elif (clean and type(item) is str) or type(item) in _PLAIN_TYPES:
            redacted[key] = item
        else:
            redacted[key] = redact(item)
    return redacted
