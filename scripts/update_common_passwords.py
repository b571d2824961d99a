"""Regenerate functions/authapi/users/common_passwords.txt from zxcvbn's maintained list.

Usage: .venv/bin/pip install zxcvbn && .venv/bin/python scripts/update_common_passwords.py
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

TARGET = Path(__file__).resolve().parents[1] / "functions/authapi/users/common_passwords.txt"


def main() -> None:
    passwords = FREQUENCY_LISTS["passwords"]
    version = importlib.metadata.version("zxcvbn")
    header = [
        f"# The {len(passwords):,} most common passwords, most frequent first, lower-cased.",
        f"# Source: zxcvbn-python {version} (zxcvbn/frequency_lists.py, 'passwords'), MIT licence,",
        "# from Dropbox's zxcvbn leaked-password frequency list. "
        "Regenerate: scripts/update_common_passwords.py",
    ]
    TARGET.write_text("\n".join([*header, *passwords]) + "\n", encoding="utf-8")
    print(f"wrote {len(passwords)} passwords to {TARGET}")


if __name__ == "__main__":
    main()
