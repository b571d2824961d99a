"""Every time-based decision reads the injected clock (`authapi.clock`), never the wall clock.

Column defaults (models, migrations) say when a row was written, and decide nothing; everything
else in the service must take `now` from the app's clock, so tests move time instead of sleeping.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "functions" / "authapi"
EXEMPT = {PACKAGE / "clock.py", PACKAGE / "models", PACKAGE / "migrations"}
WALL_CLOCK_METHODS = {"now", "utcnow", "today"}
SQL_CLOCK_FUNCTIONS = {
    "now",
    "current_timestamp",
    "localtimestamp",
    "clock_timestamp",
    "statement_timestamp",
    "transaction_timestamp",
}
SQL_CLOCK_WORDS = ("now()", "current_timestamp", "clock_timestamp", "localtimestamp")

pytestmark = pytest.mark.unit


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def wall_clock_reads(source: str) -> list[str]:
    """Each place in `source` that reads the time itself, as `line: what`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner, method = _dotted(node.func.value), node.func.attr
            python_clock = owner.split(".")[-1] in {"datetime", "date"} and (
                method in WALL_CLOCK_METHODS
            )
            time_module = owner == "time" and method in {"time", "time_ns"}
            sql_clock = owner.split(".")[-1] == "func" and method in SQL_CLOCK_FUNCTIONS
            if python_clock or time_module or sql_clock:
                found.append(f"{node.lineno}: {owner}.{method}()")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value.lower()
            if any(word in text for word in SQL_CLOCK_WORDS) and "select" in text:
                found.append(f"{node.lineno}: SQL reading the clock")
    return found


def _decision_modules() -> list[Path]:
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if not any(path == exempt or exempt in path.parents for exempt in EXEMPT)
    ]


def test_no_decision_code_reads_the_wall_clock() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): reads
        for path in _decision_modules()
        if (reads := wall_clock_reads(path.read_text()))
    }
    assert offenders == {}, "take `now` from the app's clock (authapi.clock) instead"


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import datetime, UTC\nnow = datetime.now(UTC)",
        "import datetime\nnow = datetime.datetime.utcnow()",
        "import time\nstarted = time.time()",
        "from sqlalchemy import func\nstatement = select(func.now())",
        "from sqlalchemy import text\nstatement = text('SELECT now() - interval 1')",
    ],
)
def test_the_scan_sees_each_way_of_reading_the_clock(source: str) -> None:
    assert wall_clock_reads(source)


def test_the_scan_lets_clock_arithmetic_through() -> None:
    source = "def f(clock, seconds):\n    return clock.now() + timedelta(seconds=seconds)"
    assert wall_clock_reads(source) == []
