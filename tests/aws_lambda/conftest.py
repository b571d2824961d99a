"""The Lambda tier: each test starts like a new execution environment.

The handler-building and SSM fixtures are the root conftest's (the fault tests use them too).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aws_lambda_powertools.metrics.provider import cold_start

from authapi.observability import metrics as business_metrics


@pytest.fixture(autouse=True)
def _fresh_powertools_state() -> Iterator[None]:
    """Each test starts like a new execution environment: cold, with no metrics pending."""
    from aws_lambda_powertools.logging import logger as logger_module
    from aws_lambda_powertools.tracing import tracer as tracer_module

    cold_start.reset_cold_start_flag()
    logger_module.is_cold_start = True
    tracer_module.is_cold_start = True
    yield
    business_metrics.install_sink(None)
