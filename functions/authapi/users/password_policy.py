"""Password rules after NIST SP 800-63B and OWASP ASVS 5: length, not composition; no common
passwords; not the account's own email."""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from authapi.config import Settings
from authapi.exceptions import WeakPasswordError


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """Loaded on first use, not at import: a cold start that only serves /me never pays for it."""
    text = files("authapi.users").joinpath("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def check_password_policy(settings: Settings, *, password: str, email: str) -> None:
    """Raise WeakPasswordError naming the first rule `password` (already normalized) breaks."""
    length = len(password)  # code points, as NIST counts them
    if length < settings.password_min_length:
        raise WeakPasswordError(
            f"Password must be at least {settings.password_min_length} characters long."
        )
    if length > settings.password_max_length:
        raise WeakPasswordError(
            f"Password must be at most {settings.password_max_length} characters long."
        )
    folded = password.casefold()
    if folded in common_passwords():
        raise WeakPasswordError("This password is too common; choose a less guessable one.")
    local_part = email.split("@", 1)[0]
    if folded in (email, local_part) or email in folded:
        raise WeakPasswordError("Password must not be your email address.")
