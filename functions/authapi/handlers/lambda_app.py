"""Builds the Lambda handler around the app: Mangum for events, Powertools for observability.

Everything here runs once per execution environment (at cold start); the handler it returns
runs once per invocation and does nothing but set context and pass the event on.
"""

from __future__ import annotations

import asyncio
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from fastapi import FastAPI
from mangum import Mangum

from authapi.app import create_app
from authapi.clock import Clock
from authapi.config import Settings
from authapi.observability import metrics as business_metrics
from authapi.observability.logs import configure_logging
from authapi.observability.version_metrics import (
    RequestSample,
    VersionedEmfProvider,
    function_version,
)
from authapi.resources import app_resources

SERVICE = "authapi"
METRICS_NAMESPACE = "authapi"  # POWERTOOLS_METRICS_NAMESPACE overrides it
# API Gateway (HTTP and REST) and function URLs carry requestContext.requestId; ALB does not,
# so fall back to its trace header. The app uses the same id as the request's X-Request-ID.
# Read by `correlation_id`; the expression stays as its specification (a test holds the two
# to the same answers).
CORRELATION_ID_PATH = 'requestContext.requestId || headers."x-amzn-trace-id"'


def correlation_id(event: dict[str, Any]) -> str | None:
    """What CORRELATION_ID_PATH selects in `event`, read without JMESPath.

    Powertools' `correlation_id_path` evaluates the expression on every invocation: about 5 us
    of the 0.2 ms a warm request may spend outside the database. JMESPath's `||` gives the left
    side unless it is null, false or empty.
    """
    context = event.get("requestContext")
    request_id = context.get("requestId") if isinstance(context, dict) else None
    if request_id:
        return str(request_id)
    headers = event.get("headers")
    trace_id = headers.get("x-amzn-trace-id") if isinstance(headers, dict) else None
    return str(trace_id) if trace_id else None


LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

# the invocation's X-Ray trace header, as the Lambda runtime sets it, and its "not sampled" flag
TRACE_ENVIRONMENT_VARIABLE = "_X_AMZN_TRACE_ID"
UNSAMPLED = "Sampled=0"

_TRUTHY = frozenset({"1", "y", "yes", "t", "true", "on"})  # Powertools' own reading of env flags


def tracing_enabled() -> bool:
    """Whether Powertools' Tracer would trace here, decided without building one.

    Its rule: only inside Lambda (LAMBDA_TASK_ROOT), not under SAM local or Chalice, and not
    with POWERTOOLS_TRACE_DISABLED set. Building a Tracer that then switches itself off still
    imports the X-Ray SDK, which outside Lambda also sets up a sampler with two botocore clients:
    about 0.3 s of every local cold start (make run, make invoke, the tests) for nothing.
    """
    if not os.environ.get("LAMBDA_TASK_ROOT"):
        return False
    if os.environ.get("AWS_SAM_LOCAL") or os.environ.get("AWS_CHALICE_CLI_MODE"):
        return False
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "false").lower() not in _TRUTHY


def skipping_unsampled(traced: LambdaHandler, plain: LambdaHandler) -> LambdaHandler:
    """`traced` for invocations X-Ray samples and for the first one; `plain` for the others.

    An unsampled invocation's subsegment is a dummy that X-Ray never receives, yet the Tracer's
    wrapper still builds and annotates it: about 0.04 ms of every warm request, most requests
    being unsampled (X-Ray's default rule samples 1 a second and 5%). Lambda sets the trace
    header per invocation in `_X_AMZN_TRACE_ID`. The first invocation always goes through the
    Tracer, whatever its header says: it consumes the Tracer's ColdStart annotation, which
    would otherwise mark the next sampled invocation as the cold one.
    """
    first = True

    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        nonlocal first
        if first or UNSAMPLED not in os.environ.get(TRACE_ENVIRONMENT_VARIABLE, ""):
            first = False
            return traced(event, context)
        return plain(event, context)

    return handler


@dataclass(frozen=True)
class LambdaApp:
    """The handler, and what it runs on: the app and the event loop every invocation shares."""

    handler: LambdaHandler
    app: FastAPI
    loop: asyncio.AbstractEventLoop

    def close(self) -> None:
        """Release connections and the loop (Lambda never calls this; tests and tools do)."""
        self.loop.run_until_complete(app_resources(self.app).aclose())
        self.loop.close()


def build_lambda_app(settings: Settings, *, clock: Clock | None = None) -> LambdaApp:
    """The handler of one execution environment; `clock` is for tests that move time."""
    logger = configure_logging(settings)
    # the provider also carries each invocation's Http5xx and Latency by function version
    provider = VersionedEmfProvider(
        namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or METRICS_NAMESPACE,
        service=SERVICE,
    )
    metrics = Metrics(provider=provider)
    # most invocations (a /me, a /health) count no business event: that is not worth a warning
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    business_metrics.install_sink(
        lambda name: metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    )

    # One loop per execution environment, reused by every invocation, so the connection pool
    # made on the first one is still usable on the next. Mangum runs on the current loop.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # lifespan="off": Mangum would run startup and shutdown around every single invocation
    app = create_app(settings, clock=clock)
    adapter = Mangum(app, lifespan="off")

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        logger.set_correlation_id(correlation_id(event))
        asyncio.set_event_loop(loop)  # in case anything else in the process changed it
        started = time.perf_counter()
        status = 500  # an invocation that raises is a failed answer too
        try:
            # Mangum and Powertools each declare their own LambdaContext protocol; it is one object
            response = adapter(event, cast(Any, context))
            status = int(response.get("statusCode", 500))
            return response
        finally:
            provider.record_request(
                RequestSample(
                    function_name=context.function_name,
                    function_version=function_version(context),
                    status=status,
                    latency_ms=(time.perf_counter() - started) * 1000,
                )
            )

    traced: Callable[..., Any] = handler
    if tracing_enabled():
        # Nothing to patch: the one AWS call (SSM's GetParameters, signing/ssm_api.py) uses no
        # botocore client, and the RDS IAM token is signed locally. Patching costs cold-start
        # time for nothing. capture_response=False keeps tokens in response bodies out of X-Ray.
        tracer = Tracer(service=SERVICE, auto_patch=False)
        traced = skipping_unsampled(
            tracer.capture_lambda_handler(capture_response=False)(handler), handler
        )
    measured = metrics.log_metrics(capture_cold_start_metric=True)(traced)
    # the Powertools decorators are typed as returning Any
    return LambdaApp(handler=cast(LambdaHandler, measured), app=app, loop=loop)
