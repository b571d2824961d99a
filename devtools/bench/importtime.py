"""Reads `python -X importtime` output: what a cold start spends its imports on."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)\s*$")
# printed by the probe between importing the handler and sending it the first request
FIRST_REQUEST_MARKER = "### first request"


@dataclass(frozen=True)
class Import:
    module: str
    self_us: int
    cumulative_us: int
    depth: int


def parse(lines: list[str]) -> list[Import]:
    imports = []
    for line in lines:
        match = _LINE.match(line)
        if match:
            self_us, cumulative_us, indent, module = match.groups()
            imports.append(Import(module, int(self_us), int(cumulative_us), len(indent) // 2))
    return imports


def _ms(microseconds: int) -> float:
    return round(microseconds / 1000, 1)


def summarize(imports: list[Import], top: int) -> dict[str, Any]:
    packages: Counter[str] = Counter()
    for item in imports:
        packages[item.module.split(".", 1)[0]] += item.self_us
    by_cumulative = sorted(imports, key=lambda item: item.cumulative_us, reverse=True)
    return {
        # every import's own time, so the phase total does not count nested imports twice
        "total_ms": _ms(sum(item.self_us for item in imports)),
        "modules": len(imports),
        "top_cumulative": [
            {"module": item.module, "cumulative_ms": _ms(item.cumulative_us), "depth": item.depth}
            for item in by_cumulative[:top]
        ],
        "top_packages": [
            {"package": package, "self_ms": _ms(total)}
            for package, total in packages.most_common(top)
        ],
    }


def report(stderr: str, top: int = 15) -> dict[str, Any]:
    """Imports made while importing the handler, and those the first request made lazily."""
    lines = stderr.splitlines()
    split = lines.index(FIRST_REQUEST_MARKER) if FIRST_REQUEST_MARKER in lines else len(lines)
    return {
        "handler_import": summarize(parse(lines[:split]), top),
        "first_request": summarize(parse(lines[split:]), top),
    }
