"""Lambda entry point of the HTTP API: `authapi.handlers.api.handler`."""

from __future__ import annotations

from authapi.config import get_settings

# before the routers' modules: FastAPI reads their models as they are declared (at import)
from authapi.handlers import fastapi_compat  # noqa: F401
from authapi.handlers.lambda_app import build_lambda_app
from authapi.handlers.snapstart import register_snapstart_hooks

lambda_app = build_lambda_app(get_settings())
# run by the runtime only under SnapStart (template.yaml, ColdStartMode=snapstart)
register_snapstart_hooks(lambda_app)
handler = lambda_app.handler
