"""Pure ASGI middleware: cheap per request, and contextvars set here reach the endpoint."""
