"""What the app wrote to stdout, as data: JSON log lines and CloudWatch EMF metric blobs."""

from __future__ import annotations

import json
from typing import Any


def json_lines(output: str) -> list[dict[str, Any]]:
    """Every JSON line of captured output (log records and EMF blobs alike)."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def log_records(output: str) -> list[dict[str, Any]]:
    """The log records only, without the EMF blobs."""
    return [line for line in json_lines(output) if "_aws" not in line]


def emf_blobs(output: str) -> list[dict[str, Any]]:
    return [line for line in json_lines(output) if "_aws" in line]


def metric_names(output: str) -> list[str]:
    """Every metric the EMF blobs in `output` publish, once per blob that publishes it."""
    return [
        metric["Name"]
        for blob in emf_blobs(output)
        for directive in blob["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    ]
