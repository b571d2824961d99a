"""authapi-client: call authapi from Python, sync or async, with typed errors and tokens
refreshed for you (once, however many callers need it at the same time)."""

from authapi_client.client import AsyncAuthApiClient, AuthApiClient
from authapi_client.errors import (
    AuthApiConnectionError,
    AuthApiError,
    AuthenticationError,
    BadRequestError,
    ClientError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    NotSignedInError,
    PayloadTooLargeError,
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
    UnprocessableEntityError,
    UnsupportedMediaTypeError,
)
from authapi_client.errors_generated import *  # noqa: F403  (one class per documented code)
from authapi_client.errors_generated import __all__ as _generated
from authapi_client.models import (
    AuditEvent,
    Enrolment,
    EventPage,
    Introspection,
    MfaChallenge,
    MfaFactor,
    MfaStatus,
    OAuthToken,
    Registered,
    Session,
    SignedIn,
    StepUp,
    Tokens,
    User,
    Verified,
)
from authapi_client.retry import RetryPolicy
from authapi_client.tokens import FileTokenStore, MemoryTokenStore, TokenStore
from authapi_client.version import __version__ as __version__

__all__ = [
    "AsyncAuthApiClient",
    "AuthApiClient",
    "AuthApiConnectionError",
    "AuthApiError",
    "AuthenticationError",
    "BadRequestError",
    "ClientError",
    "ConflictError",
    "Enrolment",
    "FileTokenStore",
    "ForbiddenError",
    "Introspection",
    "MemoryTokenStore",
    "MfaChallenge",
    "MfaFactor",
    "MfaStatus",
    "NotFoundError",
    "NotSignedInError",
    "OAuthToken",
    "PayloadTooLargeError",
    "RateLimitedError",
    "Registered",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailableError",
    "AuditEvent",
    "EventPage",
    "Session",
    "SignedIn",
    "StepUp",
    "TokenStore",
    "Tokens",
    "UnprocessableEntityError",
    "UnsupportedMediaTypeError",
    "User",
    "Verified",
    *_generated,
]
