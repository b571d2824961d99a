"""The one place that turns errors raised while routing into problem+json responses.

What the routes' handlers never see (a crash, a database that is gone) is the error middleware's.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from authapi.exceptions import (
    AuthApiError,
    HttpStatusError,
    InputValidationError,
    InvalidRequestError,
    MethodNotAllowedError,
    NotFoundError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
from authapi.problems import problem_response


async def _auth_api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, AuthApiError)
    return problem_response(error, path=request.scope.get("path"))


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    # only where and what: never the submitted value, which may be a password
    errors = [
        {"loc": [str(part) for part in item.get("loc", ())], "msg": str(item.get("msg", ""))}
        for item in error.errors()
    ]
    return problem_response(InputValidationError(), path=request.scope.get("path"), errors=errors)


_HTTP_ERRORS: dict[int, type[AuthApiError]] = {
    400: InvalidRequestError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
}


async def _http_exception(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    error_class = _HTTP_ERRORS.get(error.status_code)
    problem = error_class() if error_class else HttpStatusError(error.status_code)
    if error.headers:
        problem.headers.update(error.headers)
    return problem_response(problem, path=request.scope.get("path"))


def register_exception_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AuthApiError, _auth_api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
