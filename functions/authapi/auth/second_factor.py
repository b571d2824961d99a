"""Whether a sign-in with a correct password still needs a second factor: the seam MFA plugs into.

The OAuth password grant cannot carry a second factor, so an account that needs one is answered
`invalid_grant` / `mfa_required` there (issue 12); whether it needs one is found by the login's
own statement (issue 14: an active TOTP factor), so a policy only decides on what it is told.
"""

from __future__ import annotations

from typing import Protocol

from authapi.models import User


class SecondFactorPolicy(Protocol):
    """Whether a user whose password was just checked must still give a second factor that
    this way of signing in cannot take (`has_factor`: the account has an active one, or must
    have one: AUTHAPI_MFA_REQUIRED)."""

    def __call__(self, user: User, *, has_factor: bool) -> bool: ...


def password_grant_policy(user: User, *, has_factor: bool) -> bool:
    """The OAuth password grant: an account with a second factor cannot finish there."""
    return has_factor
