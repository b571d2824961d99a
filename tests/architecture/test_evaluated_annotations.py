"""The ORM models and the pydantic models every cold start builds keep real annotations.

With `from __future__ import annotations` every annotation is a string, and SQLAlchemy (each
`Mapped[...]`) and pydantic (each field) evaluate each string again as they build the class: an
`eval`, so a parse and a compile, per column and per field. For the 14 models, the settings'
96 fields and the auth schemas that was about 400 compiles of every cold start and 1 % of its
instructions (49 M of 4.72 G under callgrind, devtools/bench/instructions.py). These modules
write their annotations so that they evaluate as written (`Self` for a validator returning its
model).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "functions" / "authapi"
EVALUATED = sorted(
    [
        *(PACKAGE / "models").glob("*.py"),
        PACKAGE / "config.py",
        PACKAGE / "auth" / "schemas.py",
        PACKAGE / "auth" / "mfa_schemas.py",
        PACKAGE / "tenants" / "settings.py",
    ]
)

pytestmark = pytest.mark.unit


def postponed_annotations(source: str) -> bool:
    """Whether `source` turns its annotations into strings (PEP 563)."""
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in ast.parse(source).body
    )


def test_the_check_sees_a_postponed_module() -> None:
    assert postponed_annotations('"""Doc."""\nfrom __future__ import annotations\nx: int = 1\n')
    assert not postponed_annotations("from __future__ import division\nx: int = 1\n")


@pytest.mark.parametrize("path", EVALUATED, ids=lambda path: str(path.relative_to(PACKAGE)))
def test_models_and_cold_start_schemas_keep_real_annotations(path: Path) -> None:
    assert not postponed_annotations(path.read_text()), (
        f"{path.relative_to(PACKAGE)}: `from __future__ import annotations` makes SQLAlchemy and "
        "pydantic evaluate every annotation string again at each cold start"
    )
