"""Lambda entry point of the HTTP API: `authapi.handlers.api.handler`."""

from __future__ import annotations

from authapi.config import get_settings
from authapi.handlers.lambda_app import build_lambda_app

handler = build_lambda_app(get_settings()).handler
