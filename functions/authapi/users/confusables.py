"""Look-alike emails: `ada@example.com` written with a fullwidth, Cyrillic or Greek letter is
the same account to a human reading it, so registration treats it as the same account.

This is UTS #39's skeleton test, in part: compatibility decomposition (NFKD: fullwidth and other
compatibility forms become their plain letters), then the non-ASCII letters that Unicode's
confusables data gives an ASCII prototype mapped to it. ASCII itself is left alone (`0`/`o`,
`rn`/`m` are UTS #39 confusables too), so an ASCII address is its own skeleton: a look-alike is
caught by looking its skeleton up among the accounts, one indexed query, and only for addresses
that have a look-alike character at all.

The residual: the look-alike registered *first* is not caught when the plain address registers
later, since that needs every account's skeleton in an indexed column.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.exceptions import EmailTakenError
from authapi.models import User

# From Unicode's confusables.txt: lower-case letters of other scripts (and Latin's own IPA and
# dotless letters) whose prototype is an ASCII letter. Emails are lower-cased before they get here.
_PROTOTYPES = str.maketrans(
    {
        # Cyrillic
        "\u0430": "a",
        "\u0441": "c",
        "\u0501": "d",
        "\u0435": "e",
        "\u04bb": "h",
        "\u0456": "i",
        "\u0458": "j",
        "\u04cf": "l",
        "\u043e": "o",
        "\u0440": "p",
        "\u051b": "q",
        "\u0455": "s",
        "\u051d": "w",
        "\u0445": "x",
        "\u0443": "y",
        # Greek
        "\u03b1": "a",
        "\u03b9": "i",
        "\u03ba": "k",
        "\u03bd": "v",
        "\u03bf": "o",
        "\u03c1": "p",
        "\u03c5": "u",
        "\u03c7": "x",
        # Armenian
        "\u0570": "h",
        "\u0578": "n",
        "\u057d": "u",
        "\u0585": "o",
        # Latin letters that are not ASCII but look it
        "\u0251": "a",
        "\u0261": "g",
        "\u0131": "i",
        "\u0237": "j",
        "\u026a": "i",
        "\u1d0f": "o",
        "\u1d1c": "u",
        "\u1d20": "v",
        "\u1d21": "w",
        "\u1d22": "z",
    }
)


def skeleton(email: str) -> str:
    """The address as it reads: compatibility forms and look-alike letters made ASCII."""
    decomposed = unicodedata.normalize("NFKD", email).translate(_PROTOTYPES)
    return unicodedata.normalize("NFC", decomposed).lower()


async def refuse_look_alike(db: AsyncSession, *, email: str) -> None:
    """EmailTakenError when `email` is a look-alike of an existing account's address."""
    prototype = skeleton(email)
    if prototype == email:
        return  # no look-alike character: the unique constraint is the whole check
    # one round trip, on the unique index of users.email
    if await db.scalar(select(User.id).where(User.email == prototype)) is not None:
        raise EmailTakenError("An account with this email, or one that reads the same, exists.")
