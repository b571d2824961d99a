"""Whether a sign-in with a correct password still needs a second factor: the seam MFA plugs into.

The OAuth password grant cannot carry a second factor, so an account that needs one is answered
`invalid_grant` / `mfa_required` there (issue 12); MFA itself does not exist yet, so the one
policy today answers no for every account.
"""

from __future__ import annotations

from typing import Protocol

from authapi.models import User


class SecondFactorPolicy(Protocol):
    """Whether a user whose password was just checked must still give a second factor: the seam
    where MFA plugs in. No account has one yet, so the only policy today answers no."""

    def __call__(self, user: User) -> bool: ...


def no_second_factor_yet(user: User) -> bool:
    """MFA does not exist yet: no account needs a second factor (issue 12's rule is wired)."""
    return False
