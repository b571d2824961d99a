"""The app's own CORS answers (where API Gateway does not give them): Starlette's, except that a
refused preflight is problem+json like every other error, not text/plain."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from authapi.exceptions import CorsPreflightRefusedError
from authapi.problems import problem_response

# what a refused preflight keeps of Starlette's answer: caches must still vary on the origin
_KEPT_HEADERS = ("vary",)


class ProblemCorsMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        problem = problem_response(CorsPreflightRefusedError())
        for name in _KEPT_HEADERS:
            if name in response.headers:
                problem.headers[name] = response.headers[name]
        return problem
