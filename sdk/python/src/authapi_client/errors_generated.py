"""One exception class per `code` authapi's OpenAPI documents. GENERATED: do not edit.

`make sdk-errors` writes it from the service's OpenAPI (devtools/sdk_errors.py); a test fails
when the API documents a code this file lacks.
"""

from __future__ import annotations

from authapi_client.errors import (
    AuthApiError,
    AuthenticationError,
    BadRequestError,
    ClientError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    ServiceUnavailableError,
    UnprocessableEntityError,
    UnsupportedMediaTypeError,
)


class AccountDisabled(ConflictError):
    """Account disabled (`account_disabled`)."""


class AdminOwnAccount(ConflictError):
    """Own account (`admin_own_account`)."""


class AdminRoleRequired(ForbiddenError):
    """Admin role required (`admin_role_required`)."""


class AdminTokenRequired(ForbiddenError):
    """Admin token required (`admin_token_required`)."""


class ClientAddressUnknown(BadRequestError):
    """Client address unknown (`client_address_unknown`). OAuth `error`: `invalid_request`."""


class CrossSiteRequest(ForbiddenError):
    """Cross-site request refused (`cross_site_request`). OAuth `error`: `invalid_request`."""


class DatabaseUnavailable(ServiceUnavailableError):
    """`database_unavailable`, answered by the OAuth endpoints. OAuth `error`:
    `temporarily_unavailable`.
    """


class DefaultTenantAdminRequired(ForbiddenError):
    """Default tenant's administrator required (`default_tenant_admin_required`)."""


class DefaultTenantFixed(ConflictError):
    """Default tenant is fixed (`default_tenant_fixed`)."""


class EmailAlreadyVerified(ConflictError):
    """Email already verified (`email_already_verified`)."""


class EmailNotVerified(ForbiddenError):
    """Email not verified (`email_not_verified`). OAuth `error`: `invalid_grant`."""


class EmailTaken(ConflictError):
    """Email already registered (`email_taken`)."""


class InvalidAccountToken(BadRequestError):
    """Invalid or expired token (`invalid_account_token`)."""


class InvalidClient(ClientError):
    """`invalid_client`, answered by the OAuth endpoints. OAuth `error`: `invalid_client`."""


class InvalidCredentials(AuthenticationError):
    """Invalid credentials (`invalid_credentials`). OAuth `error`: `invalid_grant`."""


class InvalidCursor(BadRequestError):
    """Invalid cursor (`invalid_cursor`)."""


class InvalidMfaChallenge(AuthenticationError):
    """Invalid MFA challenge (`invalid_mfa_challenge`)."""


class InvalidMfaCode(AuthenticationError):
    """Invalid MFA code (`invalid_mfa_code`)."""


class InvalidRefreshToken(AuthenticationError):
    """Invalid refresh token (`invalid_refresh_token`). OAuth `error`: `invalid_grant`."""


class InvalidRequest(BadRequestError):
    """Invalid request (`invalid_request`). OAuth `error`: `invalid_request`."""


class InvalidTenantSettings(UnprocessableEntityError):
    """Invalid tenant settings (`invalid_tenant_settings`)."""


class InvalidToken(AuthenticationError):
    """Invalid access token (`invalid_token`)."""


class MfaAlreadyEnabled(ConflictError):
    """MFA already enabled (`mfa_already_enabled`)."""


class MfaEnrolmentRequired(ForbiddenError):
    """MFA enrolment required (`mfa_enrolment_required`)."""


class MfaNotEnrolled(ConflictError):
    """No authenticator (`mfa_not_enrolled`)."""


class MfaRequired(ForbiddenError):
    """Multi-factor authentication required (`mfa_required`). OAuth `error`: `invalid_grant`."""


class NotAuthenticated(AuthenticationError):
    """Not authenticated (`not_authenticated`)."""


class NotFound(NotFoundError):
    """Not found (`not_found`)."""


class PayloadTooLarge(PayloadTooLargeError):
    """Payload too large (`payload_too_large`)."""


class RefreshInProgress(ServiceUnavailableError):
    """Refresh in progress (`refresh_in_progress`). OAuth `error`: `temporarily_unavailable`."""


class RefreshTokenReused(AuthenticationError):
    """Refresh token reused (`refresh_token_reused`). OAuth `error`: `invalid_grant`."""


class SameEmail(UnprocessableEntityError):
    """Same email (`same_email`)."""


class SecretsUnavailable(ServiceUnavailableError):
    """`secrets_unavailable`, answered by the OAuth endpoints. OAuth `error`:
    `temporarily_unavailable`.
    """


class SessionNotFound(NotFoundError):
    """Session not found (`session_not_found`)."""


class TenantExists(ConflictError):
    """Tenant exists (`tenant_exists`)."""


class TenantNotFound(NotFoundError):
    """Tenant not found (`tenant_not_found`)."""


class TooManyAttempts(RateLimitedError):
    """Too many attempts (`too_many_attempts`). OAuth `error`: `temporarily_unavailable`."""


class UnsupportedGrantType(BadRequestError):
    """`unsupported_grant_type`, answered by the OAuth endpoints. OAuth `error`:
    `unsupported_grant_type`.
    """


class UnsupportedMediaType(UnsupportedMediaTypeError):
    """Unsupported media type (`unsupported_media_type`). OAuth `error`: `invalid_request`."""


class UserNotFound(NotFoundError):
    """User not found (`user_not_found`)."""


class ValidationError(UnprocessableEntityError):
    """Validation error (`validation_error`)."""


class WeakPassword(UnprocessableEntityError):
    """Password too weak (`weak_password`)."""


class WrongPassword(ForbiddenError):
    """Wrong password (`wrong_password`)."""


class InvalidGrant(BadRequestError):
    """RFC 6749 `error` `invalid_grant` with a `code` this SDK does not know."""


class InvalidScope(BadRequestError):
    """RFC 6749 `error` `invalid_scope` with a `code` this SDK does not know."""


class UnauthorizedClient(BadRequestError):
    """RFC 6749 `error` `unauthorized_client` with a `code` this SDK does not know."""


class UnsupportedTokenType(BadRequestError):
    """RFC 6749 `error` `unsupported_token_type` with a `code` this SDK does not know."""


# every code the API documents: the class its answers raise
CODE_CLASSES: dict[str, type[AuthApiError]] = {
    "account_disabled": AccountDisabled,
    "admin_own_account": AdminOwnAccount,
    "admin_role_required": AdminRoleRequired,
    "admin_token_required": AdminTokenRequired,
    "client_address_unknown": ClientAddressUnknown,
    "cross_site_request": CrossSiteRequest,
    "database_unavailable": DatabaseUnavailable,
    "default_tenant_admin_required": DefaultTenantAdminRequired,
    "default_tenant_fixed": DefaultTenantFixed,
    "email_already_verified": EmailAlreadyVerified,
    "email_not_verified": EmailNotVerified,
    "email_taken": EmailTaken,
    "invalid_account_token": InvalidAccountToken,
    "invalid_client": InvalidClient,
    "invalid_credentials": InvalidCredentials,
    "invalid_cursor": InvalidCursor,
    "invalid_mfa_challenge": InvalidMfaChallenge,
    "invalid_mfa_code": InvalidMfaCode,
    "invalid_refresh_token": InvalidRefreshToken,
    "invalid_request": InvalidRequest,
    "invalid_tenant_settings": InvalidTenantSettings,
    "invalid_token": InvalidToken,
    "mfa_already_enabled": MfaAlreadyEnabled,
    "mfa_enrolment_required": MfaEnrolmentRequired,
    "mfa_not_enrolled": MfaNotEnrolled,
    "mfa_required": MfaRequired,
    "not_authenticated": NotAuthenticated,
    "not_found": NotFound,
    "payload_too_large": PayloadTooLarge,
    "refresh_in_progress": RefreshInProgress,
    "refresh_token_reused": RefreshTokenReused,
    "same_email": SameEmail,
    "secrets_unavailable": SecretsUnavailable,
    "session_not_found": SessionNotFound,
    "tenant_exists": TenantExists,
    "tenant_not_found": TenantNotFound,
    "too_many_attempts": TooManyAttempts,
    "unsupported_grant_type": UnsupportedGrantType,
    "unsupported_media_type": UnsupportedMediaType,
    "user_not_found": UserNotFound,
    "validation_error": ValidationError,
    "weak_password": WeakPassword,
    "wrong_password": WrongPassword,
}
# RFC 6749 `error` values of /api/v1/oauth/*, for an answer whose `code` is unknown
# (temporarily_unavailable, server_error: the status's base)
OAUTH_ERRORS: dict[str, type[AuthApiError]] = {
    "invalid_client": InvalidClient,
    "invalid_grant": InvalidGrant,
    "invalid_request": InvalidRequest,
    "invalid_scope": InvalidScope,
    "unauthorized_client": UnauthorizedClient,
    "unsupported_grant_type": UnsupportedGrantType,
    "unsupported_token_type": UnsupportedTokenType,
}

__all__ = [
    "CODE_CLASSES",
    "OAUTH_ERRORS",
    "AccountDisabled",
    "AdminOwnAccount",
    "AdminRoleRequired",
    "AdminTokenRequired",
    "ClientAddressUnknown",
    "CrossSiteRequest",
    "DatabaseUnavailable",
    "DefaultTenantAdminRequired",
    "DefaultTenantFixed",
    "EmailAlreadyVerified",
    "EmailNotVerified",
    "EmailTaken",
    "InvalidAccountToken",
    "InvalidClient",
    "InvalidCredentials",
    "InvalidCursor",
    "InvalidGrant",
    "InvalidMfaChallenge",
    "InvalidMfaCode",
    "InvalidRefreshToken",
    "InvalidRequest",
    "InvalidScope",
    "InvalidTenantSettings",
    "InvalidToken",
    "MfaAlreadyEnabled",
    "MfaEnrolmentRequired",
    "MfaNotEnrolled",
    "MfaRequired",
    "NotAuthenticated",
    "NotFound",
    "PayloadTooLarge",
    "RefreshInProgress",
    "RefreshTokenReused",
    "SameEmail",
    "SecretsUnavailable",
    "SessionNotFound",
    "TenantExists",
    "TenantNotFound",
    "TooManyAttempts",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "UnsupportedMediaType",
    "UnsupportedTokenType",
    "UserNotFound",
    "ValidationError",
    "WeakPassword",
    "WrongPassword",
]
