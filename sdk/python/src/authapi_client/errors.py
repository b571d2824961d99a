"""The error family: `AuthApiError` and one base per HTTP status family.

authapi answers every error as an RFC 9457 problem with a stable `code` (RFC 6749 section 5.2
bodies under /api/v1/oauth/, with the same `code` beside `error`). `errors_generated` holds one
class per documented code, each under the base of its status here; `problems.error_from_response`
picks the class. A code this SDK does not know yet still lands on the base of its status, so an
`except AuthenticationError` keeps working when the server adds a code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class AuthApiError(Exception):
    """An error answer of authapi.

    Attributes:
        status: the HTTP status of the answer.
        code: authapi's stable, snake_case code (safe to branch on).
        title: a short human title; detail: the longer explanation.
        request_id: quote it when asking the operators (it is in their logs).
        oauth_error: the RFC 6749 `error` value, for answers of /api/v1/oauth/*.
        retry_after: seconds the answer's `Retry-After` asks to wait, if it sent one.
    """

    # the status an instance of this class is documented with (0: any)
    default_status: ClassVar[int] = 0

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str,
        request_id: str | None,
        *,
        oauth_error: str | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.request_id = request_id
        self.oauth_error = oauth_error
        self.retry_after = retry_after
        self.headers: dict[str, str] = dict(headers or {})
        message = f"{status} {code}: {detail}"
        super().__init__(f"{message} (request {request_id})" if request_id else message)


class ClientError(AuthApiError):
    """4xx: the request needs changing (or, for 429, waiting) before it can succeed."""


class BadRequestError(ClientError):
    default_status = 400


class AuthenticationError(ClientError):
    """401: sign in again (or refresh): the credentials or token were not accepted."""

    default_status = 401


class ForbiddenError(ClientError):
    default_status = 403


class NotFoundError(ClientError):
    default_status = 404


class ConflictError(ClientError):
    default_status = 409


class PayloadTooLargeError(ClientError):
    default_status = 413


class UnsupportedMediaTypeError(ClientError):
    default_status = 415


class UnprocessableEntityError(ClientError):
    """422: the body or a parameter failed validation."""

    default_status = 422


class RateLimitedError(ClientError):
    """429: too many requests; `retry_after` says how long to wait."""

    default_status = 429


class ServerError(AuthApiError):
    """5xx: the service could not answer; nothing the request can change."""


class ServiceUnavailableError(ServerError):
    """503: temporarily unavailable; `retry_after` says when to try again."""

    default_status = 503


class AuthApiConnectionError(Exception):
    """authapi could not be reached, or the connection broke before its answer (after the
    retries the request allowed). The httpx error is its `__cause__`."""


class NotSignedInError(Exception):
    """The call needs tokens and the client's token store holds none: log in first."""


# the base for a status, when the answer's code is unknown to this SDK
STATUS_BASES: dict[int, type[AuthApiError]] = {
    error.default_status: error
    for error in (
        BadRequestError,
        AuthenticationError,
        ForbiddenError,
        NotFoundError,
        ConflictError,
        PayloadTooLargeError,
        UnsupportedMediaTypeError,
        UnprocessableEntityError,
        RateLimitedError,
        ServiceUnavailableError,
    )
}


def status_base(status: int) -> type[AuthApiError]:
    """The class for an answer of `status` whose code this SDK does not know."""
    if status in STATUS_BASES:
        return STATUS_BASES[status]
    if 400 <= status < 500:
        return ClientError
    if status >= 500:
        return ServerError
    return AuthApiError
