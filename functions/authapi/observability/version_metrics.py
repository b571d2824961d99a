"""Per-version request metrics, for CodeDeploy's canary alarms: `Http5xx` and `Latency` by
`FunctionName` and `FunctionVersion`.

API Gateway's metrics have no version dimension, and a handled 503 is no Lambda error, so only the
function itself can say how the new version answers. Every invocation records one request; the
values ride in the invocation's one EMF blob, as a second directive beside the business metrics'
(which keep their `service` dimension only): no extra flush, no extra log line, no extra custom
metric per business count and version.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from authapi.clock import SystemClock

HTTP_5XX = "Http5xx"  # 1 for an answer of 500-599 (handled 503s included), else 0
LATENCY = "Latency"  # ms from the event in to the response out
FUNCTION_NAME = "FunctionName"
FUNCTION_VERSION = "FunctionVersion"


@dataclass(frozen=True)
class RequestSample:
    function_name: str
    function_version: str
    status: int
    latency_ms: float


def function_version(context: Any) -> str:
    """The version this environment runs: the context's, else the runtime's variable."""
    version = getattr(context, "function_version", None) or os.environ.get(
        "AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"
    )
    return str(version)


class VersionedEmfProvider(AmazonCloudWatchEMFProvider):
    """Powertools' EMF provider, plus the invocation's request sample as its own directive."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sample: RequestSample | None = None

    def record_request(self, sample: RequestSample) -> None:
        self._sample = sample

    def serialize_metric_set(
        self,
        metrics: dict[str, Any] | None = None,
        dimensions: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Any:
        sample = self._sample
        if sample is None or self.namespace is None:
            return super().serialize_metric_set(metrics, dimensions, metadata)
        if self.metric_set if metrics is None else metrics:
            blob: dict[str, Any] = dict(super().serialize_metric_set(metrics, dimensions, metadata))
        else:
            timestamp = self.timestamp or int(SystemClock().now().timestamp() * 1000)
            blob = {"_aws": {"Timestamp": timestamp, "CloudWatchMetrics": []}}
        blob["_aws"]["CloudWatchMetrics"].append(
            {
                "Namespace": self.namespace,
                "Dimensions": [[FUNCTION_NAME, FUNCTION_VERSION]],
                "Metrics": [
                    {"Name": HTTP_5XX, "Unit": "Count"},
                    {"Name": LATENCY, "Unit": "Milliseconds"},
                ],
            }
        )
        blob[FUNCTION_NAME] = sample.function_name
        blob[FUNCTION_VERSION] = sample.function_version
        blob[HTTP_5XX] = 1 if 500 <= sample.status <= 599 else 0
        blob[LATENCY] = round(sample.latency_ms, 3)
        return blob

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        if self._sample is None:
            super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)
            return
        if not is_metrics_disabled():
            print(json.dumps(self.serialize_metric_set(), separators=(",", ":")))
        self.clear_metrics()

    def clear_metrics(self) -> None:
        super().clear_metrics()
        self._sample = None
