"""Look-alike emails: `ada@example.com` written with a fullwidth, Cyrillic or Greek letter is
the same account to a human reading it, so registration treats it as the same account.

This is UTS #39's skeleton test, in part: compatibility decomposition (NFKD: fullwidth and other
compatibility forms become their plain letters), then the non-ASCII letters that Unicode's
confusables data gives an ASCII prototype mapped to it. ASCII itself is left alone (`0`/`o`,
`rn`/`m` are UTS #39 confusables too, but refusing them would refuse real, distinct
addresses), so an ASCII address is its own skeleton. Every account stores its skeleton under a
unique constraint (users.email_skeleton): a look-alike collides with its original in the
registration's own INSERT, whichever came first, at no extra round trip.

The residual: look-alike letters outside the table below (it covers the Latin look-alikes of
Cyrillic, Greek and Armenian, and Latin's IPA and small-capital forms) are not caught.
"""

from __future__ import annotations

import unicodedata

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
